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

It lives beside internal/awstest, which starts it for a package's tests when
no MOTO_SERIAL_ENDPOINT is given; .ci/with-moto starts it from here too.
"""

import os
import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


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
        app,
        threaded=False,
        processes=1,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
