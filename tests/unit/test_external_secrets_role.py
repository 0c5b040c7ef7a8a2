"""Finding 4 of issue 27: the secret readers. Each secret set (a keeper's mnemonic, the backend's market data keys,
the shared rest) has its own store, authenticating as its own service account in `<namespace>-secrets`, whose IAM
role trusts only that account and reads only that set. So a pod created in the application namespace can assume
none of them, and the role that syncs the API's secrets cannot read a keeper's mnemonic."""
from __future__ import annotations

from fnmatch import fnmatchcase

import pulumi

from components.aws import TonsuranceAwsArgs, secret_set_policy, trust_policy
from components.services.catalog import SERVICES, secret_id, secret_reader_account, secret_sets
from components.services.secrets import ServiceSecrets, ServiceSecretsArgs
from tests.support import RecordingMocks, parse, raw_config

STORE = "kubernetes:external-secrets.io/v1:ClusterSecretStore"
SETS = secret_sets(redis_in_cluster=False)
ROLES = {s: f"arn:aws:iam::123456789012:role/tonsurance-mainnet-secrets-{s}" for s in SETS}


def run(pulumi_mocks, roles: dict[str, str]) -> RecordingMocks:
    mocks = RecordingMocks()
    pulumi_mocks(mocks)

    @pulumi.runtime.test
    def program():
        ServiceSecrets("secrets", ServiceSecretsArgs(stack="mainnet", namespace="tonsurance", sets=SETS,
                                                     store="aws", aws_region="eu-central-1", aws_role_arns=roles))

    program()
    return mocks


def aws_args() -> TonsuranceAwsArgs:
    return TonsuranceAwsArgs.from_stack_config(parse(raw_config("mainnet", namespace="tonsurance"), stack="mainnet"))


def readable(policy: dict, secret: str) -> bool:
    """What IAM would decide for GetSecretValue on the secret's ARN under this policy alone (deny wins)."""
    arn = f"arn:aws:secretsmanager:eu-central-1:123456789012:secret:{secret_id('mainnet', secret)}-AbCdEf"
    matching = [s["Effect"] for s in policy["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]
                and any(fnmatchcase(arn, pattern) for pattern in s["Resource"])]
    return "Allow" in matching and "Deny" not in matching


def test_each_set_reads_through_its_own_account_outside_the_application_namespace(pulumi_mocks):
    mocks = run(pulumi_mocks, ROLES)
    [readers] = [r for r in mocks.resources.values() if r.typ == "kubernetes:core/v1:Namespace"]
    assert readers.inputs["metadata"]["name"] == "tonsurance-secrets"
    assert readers.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    stores = {r.inputs["metadata"]["name"]: r.inputs for r in mocks.resources.values() if r.typ == STORE}
    assert set(stores) == {f"tonsurance-{s}" for s in SETS}
    for secret_set in SETS:
        auth = stores[f"tonsurance-{secret_set}"]["spec"]["provider"]["aws"]["auth"]
        assert auth == {"jwt": {"serviceAccountRef": {"name": secret_reader_account(secret_set),
                                                      "namespace": "tonsurance-secrets"}}}
        account = mocks.resources[f"secrets-reader-{secret_set}"].inputs
        assert account["metadata"] == {"name": secret_reader_account(secret_set), "namespace": "tonsurance-secrets",
                                       "annotations": {"eks.amazonaws.com/role-arn": ROLES[secret_set]}}
        assert account["automountServiceAccountToken"] is False
    # Every ExternalSecret names the store of its own set.
    for r in mocks.resources.values():
        if r.typ.endswith(":ExternalSecret"):
            [secret_set] = [s for s, names in SETS.items() if r.inputs["metadata"]["name"] in names]
            assert r.inputs["spec"]["secretStoreRef"]["name"] == f"tonsurance-{secret_set}"


def test_a_pod_in_the_application_namespace_can_assume_no_reader_role():
    args = aws_args()
    for secret_set in SETS:
        [trust] = trust_policy(args, secret_reader_account(secret_set), "tonsurance-secrets")["Statement"]
        subject = next(v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub"))
        assert subject == f"system:serviceaccount:tonsurance-secrets:{secret_reader_account(secret_set)}"
        # Any service account of the application namespace (the one a pod there may run as) is another subject.
        assert not subject.startswith("system:serviceaccount:tonsurance:")


def test_only_a_keepers_own_role_reads_its_mnemonic():
    args = aws_args()
    keepers = [s.name for s in SERVICES if any(x.name.endswith("-mnemonic") for x in s.secrets)]
    assert keepers == ["pricing-keeper", "bridge-health-keeper"]
    for keeper in keepers:
        mnemonic = f"{keeper}-mnemonic"
        assert SETS[keeper] == (mnemonic,)
        for secret_set, names in SETS.items():
            assert readable(secret_set_policy(args, names), mnemonic) == (secret_set == keeper)
    for names in SETS.values():  # and none reads the deployer's
        assert not readable(secret_set_policy(args, names), "deployer-mnemonic")
    assert readable(secret_set_policy(args, SETS["shared"]), "database-url")


def test_without_roles_the_stores_use_the_controller_credentials(pulumi_mocks):
    mocks = run(pulumi_mocks, {})
    stores = [r for r in mocks.resources.values() if r.typ == STORE]
    assert len(stores) == len(SETS) and all("auth" not in s.inputs["spec"]["provider"]["aws"] for s in stores)
    assert not any(r.typ == "kubernetes:core/v1:ServiceAccount" for r in mocks.resources.values())
