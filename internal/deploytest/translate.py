"""Translates a SAM template to plain CloudFormation offline, for the deploy test.

Usage: python translate.py TEMPLATE REGION ACCOUNT [LOGICAL_ID=s3://BUCKET/KEY ...] > translated.json

Each LOGICAL_ID=s3://... replaces that function's CodeUri with the uploaded
code, as `sam package` (or `sam deploy`) does before CloudFormation sees it.

It runs the translator the pinned SAM CLI ships (samtranslator: aws-sam-cli
1.170.0 requires aws-sam-translator==1.115.0 exactly, and .venv has that), the
transform `sam deploy` has CloudFormation run, but here: no network, no AWS. The translator asks IAM
for the AWS-managed policies' ARNs; a stub answers with the ARNs they have in
every account (only the names SAM attaches by itself are needed).
"""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class ManagedPolicies:
    """The managed-policy loader, without IAM: SAM attaches these by name."""

    def load(self):
        names = [
            "AWSLambdaBasicExecutionRole",
            "AWSLambdaSQSQueueExecutionRole",
            "AWSLambdaRole",
        ]
        return {n: "arn:aws:iam::aws:policy/service-role/" + n for n in names}


def main():
    path, region, account = sys.argv[1:4]
    code = dict(arg.split("=", 1) for arg in sys.argv[4:])
    # The translator also asks a boto3 session for the region; it must find
    # this one, never a profile's.
    os.environ["AWS_DEFAULT_REGION"] = region
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for logical_id, uri in code.items():
        resource = template["Resources"].get(logical_id)
        if resource is None:
            sys.exit(f"translate.py: no resource {logical_id} in {path}")
        resource["Properties"]["CodeUri"] = uri
    params = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    out = transform(template, params, ManagedPolicies())
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
