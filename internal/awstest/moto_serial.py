"""Serves moto on 127.0.0.1:PORT one request at a time.

Usage: .venv/bin/python internal/awstest/moto_serial.py PORT

moto_server serves each request on a thread of its own, and moto's DynamoDB
backend takes no locks: two racing TransactWriteItems (or a transaction and a
conditional update) can both pass their conditions, which DynamoDB never lets
happen. Served one request at a time, each request is atomic, as each
DynamoDB request is, so a test that races writers finds the code's races and
not moto's.

This is moto's own server (moto.server.main in moto 5.2.5: the same WSGI app,
request handler and MOTO_PORT) with threaded=False; werkzeug then also answers
HTTP/1.0 and closes each connection, so an idle keep-alive client cannot hold
the server. Nothing that blocks may be asked of it: an SQS long poll would
stall every other request for its wait.

It also keeps one promise of DynamoDB's that moto does not: a
TransactWriteItems is idempotent by its ClientRequestToken for ten minutes.
The SDK gives each call a token and keeps it across its retries, so when an
attempt is applied but its answer is lost (this server closes every
connection, and under load a client now and then loses an answer), DynamoDB
answers the retry with the first success; moto would run it again and cancel
it on its own write, a condition failure DynamoDB never gives.

It lives beside internal/awstest, which starts it for a package's tests when
no MOTO_SERIAL_ENDPOINT is given; .ci/with-moto starts it from here too.
"""

import io
import json
import os
import signal
import sys
import time

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


TRANSACT_WRITE = "DynamoDB_20120810.TransactWriteItems"
TOKEN_WINDOW = 600  # seconds a token is remembered, as on DynamoDB


class IdempotentTransactions:
    """Answers a TransactWriteItems whose ClientRequestToken already
    succeeded, with the same parameters, within the window, with that success
    and without applying it again; with other parameters, it answers
    IdempotentParameterMismatchException, as DynamoDB does. A transaction
    that failed changed nothing, so its token is not kept."""

    def __init__(self, app):
        self.app = app
        self.done = {}  # token -> (when, request without the token, status, headers, body)

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET") != TRANSACT_WRITE:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            params = json.loads(raw)
            token = params.pop("ClientRequestToken", None)
        except (ValueError, AttributeError):
            token = None  # moto answers the malformed request
        if not token:
            return self.app(environ, start_response)

        now = time.monotonic()
        self.done = {t: d for t, d in self.done.items() if now - d[0] < TOKEN_WINDOW}
        if token in self.done:
            _, first, status, headers, body = self.done[token]
            if first != params:
                return self.mismatch(start_response)
            start_response(status, headers)
            return [body]

        answer = {}

        def record(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return start_response(status, headers, exc_info)

        body = b"".join(self.app(environ, record))
        if answer.get("status", "").startswith("200"):
            self.done[token] = (now, params, answer["status"], answer["headers"], body)
        return [body]

    @staticmethod
    def mismatch(start_response):
        body = json.dumps({
            "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
            "message": "The request uses the same client token as a previous, but non-identical request.",
        }).encode()
        start_response("400 Bad Request", [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(body))),
        ])
        return [body]


def main(argv):
    if len(argv) != 1 or not argv[0].isdigit():
        sys.exit("usage: moto_serial.py PORT")
    port = int(argv[0])
    # moto builds URLs it hands out (SQS queue URLs) from MOTO_PORT.
    os.environ.setdefault("MOTO_PORT", str(port))
    # Exit cleanly on SIGTERM, as moto_server does, so a stop is not an error.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto_server: a server error answers with its traceback
    run_simple(
        "127.0.0.1",
        port,
        IdempotentTransactions(app),
        threaded=False,
        processes=1,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
