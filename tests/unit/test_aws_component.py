"""components/aws.py under Pulumi's mocks, for testnet and mainnet: the AWS provider plugin is not built here,
so the resources' inputs are checked as the engine would hand them to it (names, encryption, public access,
policies' actions and resources, tags, protection)."""
from __future__ import annotations

import json

import pulumi
import pytest

from components.aws import TonsuranceAws, TonsuranceAwsArgs
from components.services.catalog import secret_names
from tests.support import OIDC_ARN, Recorder, RecordingMocks, parse, raw_config

KMS_KEY, BUCKET, SECRET, ROLE, ROLE_POLICY = (
    "aws:kms/key:Key", "aws:s3/bucket:Bucket", "aws:secretsmanager/secret:Secret", "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy")
ISSUER = "oidc.eks.eu-central-1.amazonaws.com/id/0A1B2C3D4E5F"


@pytest.fixture
def mocks(pulumi_mocks) -> RecordingMocks:
    mocks = RecordingMocks(lambda args: {"arn": f"arn:aws:mock:::{args.name}"})  # every AWS resource has an ARN
    pulumi_mocks(mocks)
    return mocks


def one(mocks: RecordingMocks, suffix: str) -> dict:
    [found] = [r.inputs for name, r in mocks.resources.items() if name.endswith(suffix)]
    return found


def component(network: str, options: Recorder | None = None) -> TonsuranceAws:
    cfg = parse(raw_config(network), stack=network)
    opts = pulumi.ResourceOptions(transformations=[options]) if options else None
    return TonsuranceAws("aws", TonsuranceAwsArgs.from_stack_config(cfg), opts)


def build(network: str, options: Recorder | None = None) -> dict:
    """Run the component under the mocks until every resource is registered; returns the stack outputs."""
    outputs: dict = {}

    @pulumi.runtime.test
    def program():
        aws = component(network, options)
        return pulumi.Output.all(**aws.stack_outputs()).apply(outputs.update)

    program()  # returns once every registration has completed
    return outputs


def allowed(policy: dict) -> list[dict]:
    return [s for s in policy["Statement"] if s["Effect"] == "Allow"]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("network, retention", [("testnet", 30), ("mainnet", 90)])
def test_backup_bucket_is_versioned_kms_encrypted_private_tls_only_and_expires(mocks, network, retention):
    outputs = build(network)
    bucket = f"tonsurance-backups-{network}"

    assert outputs["backup_bucket"] == bucket
    assert one(mocks, "-backups")["bucket"] == bucket and one(mocks, "-backups")["forceDestroy"] is False
    assert one(mocks, "-versioning")["versioningConfiguration"] == {"status": "Enabled"}
    [rule] = one(mocks, "-encryption")["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms",
                                                          "kmsMasterKeyId": "arn:aws:mock:::aws-backup-key"}
    [key] = mocks.of_type(KMS_KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert one(mocks, "-key-alias")["name"] == f"alias/tonsurance-{network}-backups"
    block = one(mocks, "-public-access")
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    [deny] = json.loads(one(mocks, "-tls-only")["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    [lifecycle] = one(mocks, "-retention")["rules"]
    assert lifecycle["expiration"] == {"days": retention} and lifecycle["filter"] == {"prefix": f"{network}/"}
    assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": retention}
    [provider] = mocks.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "eu-central-1"


@pytest.mark.parametrize("network", ["testnet", "mainnet"])
def test_secret_containers_are_named_per_stack_tagged_with_rotation_and_hold_no_value(mocks, network):
    outputs = build(network)

    secrets = {r.inputs["name"]: r.inputs for r in mocks.of_type(SECRET)}
    names = {"deployer-mnemonic", *secret_names(redis_in_cluster=False)}
    assert {"pricing-keeper-mnemonic", "database-url", "jwt-secret", "redis-url"} <= names
    assert set(secrets) == {f"tonsurance/{network}/{n}" for n in names}
    assert outputs["secret_ids"] == {n: f"tonsurance/{network}/{n}" for n in names}
    rotation = {name.rsplit("/", 1)[1]: int(s["tags"]["tonsurance:rotation-days"]) for name, s in secrets.items()}
    assert rotation["deployer-mnemonic"] == rotation["pricing-keeper-mnemonic"] == 30
    assert rotation["bridge-health-keeper-mnemonic"] == 30
    assert rotation["database-url"] == rotation["binance-api-key"] == rotation["jwt-secret"] == 90
    kinds = {name.rsplit("/", 1)[1]: s["tags"]["tonsurance:secret-kind"] for name, s in secrets.items()}
    assert (kinds["redis-url"], kinds["slack-webhook-url"], kinds["jwt-secret"]) == \
        ("database", "api-key", "encryption-key")
    assert secrets[f"tonsurance/{network}/deployer-mnemonic"]["tags"]["tonsurance:owner"] == "CTO"
    assert secrets[f"tonsurance/{network}/pricing-keeper-mnemonic"]["tags"]["tonsurance:owner"] == "DevOps"
    assert {s["recoveryWindowInDays"] for s in secrets.values()} == {30 if network == "mainnet" else 7}
    assert not any(r.typ.startswith("aws:secretsmanager/secretVersion") for r in mocks.resources.values())
    assert not any("secretString" in r.inputs for r in mocks.resources.values())


@pytest.mark.parametrize("network", ["testnet", "mainnet"])
def test_roles_trust_one_service_account_and_grant_only_their_own_resources(mocks, network):
    outputs = build(network)
    namespace = f"tonsurance-{network}"
    secrets_arn = f"arn:aws:secretsmanager:eu-central-1:123456789012:secret:tonsurance/{network}/"

    roles = {r.inputs["name"]: r.inputs for r in mocks.of_type(ROLE)}
    assert set(roles) == {f"tonsurance-{network}-external-secrets", f"tonsurance-{network}-backup"}
    for role, account in ((f"tonsurance-{network}-external-secrets", "external-secrets"),
                          (f"tonsurance-{network}-backup", "tonsurance-backup")):
        [trust] = json.loads(roles[role]["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"Federated": OIDC_ARN}
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert trust["Condition"]["StringEquals"] == {
            f"{ISSUER}:sub": f"system:serviceaccount:{namespace}:{account}", f"{ISSUER}:aud": "sts.amazonaws.com"}

    external = json.loads(one(mocks, "-external-secrets-read")["policy"])
    [read] = allowed(external)
    assert read["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    assert read["Resource"] == [f"{secrets_arn}*"]
    [deny] = [s for s in external["Statement"] if s["Effect"] == "Deny"]
    assert deny["Resource"] == [f"{secrets_arn}deployer-mnemonic-??????"]

    backup = allowed(json.loads(one(mocks, "-backup-write")["policy"]))
    by_sid = {s["Sid"]: s for s in backup}
    assert by_sid["WriteAndVerifyBackups"]["Action"] == ["s3:PutObject", "s3:GetObject"]
    assert by_sid["WriteAndVerifyBackups"]["Resource"] == [f"arn:aws:s3:::tonsurance-backups-{network}/{network}/*"]
    assert by_sid["ListBackups"]["Condition"] == {"StringLike": {"s3:prefix": [f"{network}/*"]}}
    assert by_sid["UseTheBucketKey"]["Resource"] == ["arn:aws:mock:::aws-backup-key"]
    assert not any("Delete" in a for s in backup for a in s["Action"])

    for statement in backup + allowed(external):  # nothing is granted on everything
        assert all(a != "*" and not a.endswith(":*") for a in as_list(statement["Action"]))
        assert all(r.startswith((secrets_arn, f"arn:aws:s3:::tonsurance-backups-{network}", "arn:aws:mock:::aws-"))
                   for r in as_list(statement["Resource"]))
    assert outputs["backup_role_arn"] == "arn:aws:mock:::aws-backup-role"
    assert outputs["external_secrets_role_arn"] == "arn:aws:mock:::aws-external-secrets-role"


@pytest.mark.parametrize("network, protected", [("testnet", False), ("mainnet", True)])
def test_mainnet_resources_are_protected_and_retained(mocks, network, protected):
    options = Recorder()
    build(network, options)

    children = {name: o for name, o in options.options.items() if name not in ("aws", "aws-provider")}
    assert len(children) == 8 + len(secret_names(redis_in_cluster=False)) + 1 + 4  # key, alias, bucket and its five settings; secrets; roles
    assert all(bool(o.protect) is protected and bool(o.retain_on_delete) is protected for o in children.values())
