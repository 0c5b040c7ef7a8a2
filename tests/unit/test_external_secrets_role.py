"""The stack's secret store authenticates with the stack's own role (components/aws.py), through the service
account that role trusts, so one stack's store cannot read another stack's secrets."""
from __future__ import annotations

import json

import pulumi

from components.aws import TonsuranceAwsArgs, trust_policy
from components.services.catalog import EXTERNAL_SECRETS_SERVICE_ACCOUNT
from components.services.secrets import ServiceSecrets, ServiceSecretsArgs
from tests.support import RecordingMocks, parse, raw_config

ROLE = "arn:aws:iam::123456789012:role/tonsurance-mainnet-external-secrets"
STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"


def run(pulumi_mocks, role_arn: str | None) -> RecordingMocks:
    mocks = RecordingMocks()
    pulumi_mocks(mocks)

    @pulumi.runtime.test
    def program():
        ServiceSecrets("secrets", ServiceSecretsArgs(stack="mainnet", namespace="tonsurance", names=("jwt-secret",),
                                                     store="aws", aws_region="eu-central-1", aws_role_arn=role_arn))

    program()
    return mocks


def test_the_store_reads_as_the_service_account_the_stack_role_trusts(pulumi_mocks):
    mocks = run(pulumi_mocks, ROLE)
    [store] = [r for r in mocks.resources.values() if r.typ == STORE]
    auth = store.inputs["spec"]["provider"]["aws"]["auth"]
    assert auth == {"jwt": {"serviceAccountRef": {"name": EXTERNAL_SECRETS_SERVICE_ACCOUNT, "namespace": "tonsurance"}}}
    account = mocks.resources["secrets-reader"]
    assert account.typ == "kubernetes:core/v1:ServiceAccount"
    assert account.inputs["metadata"] == {"name": EXTERNAL_SECRETS_SERVICE_ACCOUNT, "namespace": "tonsurance",
                                          "annotations": {"eks.amazonaws.com/role-arn": ROLE}}

    aws_args = TonsuranceAwsArgs.from_stack_config(parse(raw_config("mainnet", namespace="tonsurance"), stack="mainnet"))
    [trust] = trust_policy(aws_args, EXTERNAL_SECRETS_SERVICE_ACCOUNT)["Statement"]
    subject = next(v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub"))
    assert subject == f"system:serviceaccount:tonsurance:{account.inputs['metadata']['name']}"
    assert json.dumps(store.inputs).count(ROLE) == 0  # the store names the account, never the role


def test_without_a_role_the_store_uses_the_controller_credentials(pulumi_mocks):
    mocks = run(pulumi_mocks, None)
    [store] = [r for r in mocks.resources.values() if r.typ == STORE]
    assert "auth" not in store.inputs["spec"]["provider"]["aws"]
    assert "secrets-reader" not in mocks.resources
