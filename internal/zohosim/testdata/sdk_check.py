#!/usr/bin/env python3
"""Drive Zoho's official Python SDK (zohocrmsdk8-0, unmodified) against zohosim.

Usage: sdk_check.py --base-url http://127.0.0.1:PORT --ids ID[,ID...] [--workdir DIR]

The SDK is initialised with a custom environment whose CRM and Accounts URLs
both point at the simulator, so no request can leave it. The script refreshes
a token, mass converts the ids (with a Deals object, so the SDK validates it
against the Deals fields metadata), polls the job until it is COMPLETED, reads
the leads back with Get Records (converted=both), selects them with a COQL
query as a sweep does (keyset paging: id > last, order by id) and prints a JSON summary on
stdout. Any failure exits non-zero with the reason on stderr.

It is run by sdk_test.go; the client credentials are zohosim's defaults.
"""

import argparse
import datetime
import json
import os
import sys
import tempfile
import time

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
from zohocrmsdk.src.com.zoho.api.logger import Logger
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.parameter_map import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
from zohocrmsdk.src.com.zoho.crm.api.util.choice import Choice
from zohocrmsdk.src.com.zoho.crm.api import mass_convert
from zohocrmsdk.src.com.zoho.crm.api import record
from zohocrmsdk.src.com.zoho.crm.api import coql

CLIENT_ID = "1000.SIMCLIENT"  # zohosim.DefaultClientID
CLIENT_SECRET = "simsecret"  # zohosim.DefaultClientSecret
REFRESH_TOKEN = "1000.simrefresh"  # zohosim.DefaultRefreshToken
OWNER_ID = 3652397000000186017  # zohosim.DefaultUserID: Zoho requires assign_to


class CheckError(Exception):
    pass


def fail(msg):
    raise CheckError(msg)


def describe(obj):
    """A readable form of an SDK response object, for error messages."""
    if obj is None:
        return "None"
    parts = {}
    for name in ("get_status", "get_code", "get_message", "get_details"):
        getter = getattr(obj, name, None)
        if getter is None:
            continue
        v = getter()
        parts[name[4:]] = v.get_value() if isinstance(v, Choice) else v
    return "%s %s" % (type(obj).__name__, parts)


def value(v):
    return v.get_value() if isinstance(v, Choice) else v


def initialise(base_url, workdir):
    # A custom data centre: the SDK's CRM URL is the simulator, and so is its
    # Accounts URL (the SDK posts refreshes to accounts_url itself).
    env = DataCenter.Environment(base_url, base_url + "/oauth/v2/token", base_url)
    token = OAuthToken(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN)
    store = FileStore(os.path.join(workdir, "tokens.csv"))
    logger = Logger.get_instance(level=Logger.Levels.INFO, file_path=os.path.join(workdir, "sdk.log"))
    # update_api_domain=True (the default): the token answer's api_domain,
    # which zohosim sets to its own URL, decides where CRM calls go.
    config = SDKConfig(auto_refresh_fields=False, pick_list_validation=True,
                       connect_timeout=10, read_timeout=30)
    resources = os.path.join(workdir, "resources")
    os.makedirs(resources, exist_ok=True)
    # initialize refreshes the access token at once.
    Initializer.initialize(environment=env, token=token, store=store, sdk_config=config,
                           resource_path=resources, logger=logger)
    tok = Initializer.get_initializer().token
    if not tok.get_access_token():
        fail("no access token after initialise")
    if tok.get_api_domain() != base_url:
        fail("api_domain %r, want %r" % (tok.get_api_domain(), base_url))
    return tok


def convert(ids):
    deals = record.Record()
    deals.add_key_value("Deal_Name", "SDK check")
    deals.add_key_value("Stage", Choice("Qualification"))
    deals.add_key_value("Closing_Date", datetime.date(2026, 12, 31))
    body = mass_convert.BodyWrapper()
    body.set_ids(ids)
    body.set_deals(deals)
    owner = mass_convert.AssignTo()
    owner.set_id(OWNER_ID)
    body.set_assign_to(owner)
    resp = mass_convert.MassConvertOperations().mass_convert(body)
    if resp is None:
        fail("mass_convert: no response")
    obj = resp.get_object()
    if resp.get_status_code() not in (200, 202) or not isinstance(obj, mass_convert.SuccessResponse):
        fail("mass_convert: HTTP %d %s" % (resp.get_status_code(), describe(obj)))
    if value(obj.get_code()) != "SCHEDULED":
        fail("mass_convert: %s" % describe(obj))
    job_id = obj.get_details().get("job_id")
    if not job_id:
        fail("mass_convert: no job_id in %s" % describe(obj))
    return str(job_id), resp.get_status_code()


def poll(job_id, deadline):
    ops = mass_convert.MassConvertOperations()
    seen = []
    while True:
        params = ParameterMap()
        params.add(mass_convert.GetJobStatusParam.job_id, int(job_id))
        resp = ops.get_job_status(params)
        if resp is None:
            fail("status: no response")
        obj = resp.get_object()
        if resp.get_status_code() != 200 or not isinstance(obj, mass_convert.ResponseWrapper):
            fail("status: HTTP %d %s" % (resp.get_status_code(), describe(obj)))
        st = obj.get_data()[0]
        status = value(st.get_status())
        if not seen or seen[-1] != status:
            seen.append(status)
        if status.upper().replace("_", " ") in ("COMPLETED", "FAILED"):
            return st, status, seen
        if time.monotonic() > deadline:
            fail("status: job %s still %s at the deadline" % (job_id, status))
        time.sleep(0.05)


def read_back(ids):
    params = ParameterMap()
    # The SDK joins list params with commas.
    params.add(record.GetRecordsParam.ids, ",".join(str(i) for i in ids))
    params.add(record.GetRecordsParam.fields, "Converted_Contact,Converted_Account,Converted_Deal,Lead_Conversion_Time")
    params.add(record.GetRecordsParam.converted, "both")
    resp = record.RecordOperations("Leads").get_records(params)
    if resp is None:
        fail("get_records: no response")
    obj = resp.get_object()
    if resp.get_status_code() != 200 or not isinstance(obj, record.ResponseWrapper):
        fail("get_records: HTTP %d %s" % (resp.get_status_code(), describe(obj)))
    out = {}
    for rec in obj.get_data():
        conv = rec.get_key_value("$converted")
        if not isinstance(conv, bool):
            fail("get_records: record %s has $converted %r" % (rec.get_id(), conv))
        out[str(rec.get_id())] = conv
    return out


def select(ids):
    # A sweep's page: the ids above the first one, in id order.
    body = coql.BodyWrapper()
    body.set_select_query("select id, Last_Name from Leads where Lead_Status = 'Not Contacted' "
                          "and id > %d order by id asc limit 2000" % min(ids))
    resp = coql.CoqlOperations().get_records(body)
    if resp is None:
        fail("coql: no response")
    obj = resp.get_object()
    if resp.get_status_code() != 200 or not isinstance(obj, coql.ResponseWrapper):
        fail("coql: HTTP %d %s" % (resp.get_status_code(), describe(obj)))
    info = obj.get_info()
    if info.get_more_records() is not False or info.get_count() != len(obj.get_data()):
        fail("coql: info %s" % describe(info))
    return [str(rec.get_id()) for rec in obj.get_data()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--ids", required=True, help="comma-separated lead ids")
    ap.add_argument("--workdir", help="directory for the token store, fields cache and SDK log")
    ap.add_argument("--timeout", type=float, default=60, help="seconds to wait for the job")
    args = ap.parse_args()
    ids = [int(i) for i in args.ids.split(",") if i.strip()]
    workdir = args.workdir or tempfile.mkdtemp(prefix="zohosim-sdk-")
    deadline = time.monotonic() + args.timeout

    initialise(args.base_url.rstrip("/"), workdir)
    job_id, http_status = convert(ids)
    st, status, seen = poll(job_id, deadline)
    converted = read_back(ids)
    selected = select(ids)
    summary = {
        "job_id": job_id,
        "schedule_http_status": http_status,
        "status": status,
        "statuses_seen": seen,
        "total": st.get_total_count(),
        "converted": st.get_converted_count(),
        "not_converted": st.get_not_converted_count(),
        "failed": st.get_failed_count(),
        "records": converted,
        "selected": selected,
    }
    json.dump(summary, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    if status.upper().replace("_", " ") != "COMPLETED":
        fail("job %s ended %s" % (job_id, status))


if __name__ == "__main__":
    try:
        main()
    except CheckError as e:
        print("sdk_check: %s" % e, file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # the SDK's own exceptions included
        print("sdk_check: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(2)
