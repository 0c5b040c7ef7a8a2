"""components/aws.py under Pulumi's mocks, for testnet and mainnet: the AWS provider plugin is not built here,
so the resources' inputs are checked as the engine would hand them to it (names, encryption, public access,
policies' actions and resources, tags, protection)."""
from __future__ import annotations

import json

import pulumi
import pytest

from components.aws import TonsuranceAws, TonsuranceAwsArgs
from components.services.catalog import secret_names, secret_sets
from tests.support import DEPLOY_ROLE_ARN, OIDC_ARN, Recorder, RecordingMocks, parse, raw_config

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


def component(network: str, options: Recorder | None = None, **overrides) -> TonsuranceAws:
    cfg = parse(raw_config(network, **overrides), stack=network)
    opts = pulumi.ResourceOptions(transformations=[options]) if options else None
    return TonsuranceAws("aws", TonsuranceAwsArgs.from_stack_config(cfg), opts)


def build(network: str, options: Recorder | None = None, **overrides) -> dict:
    """Run the component under the mocks until every resource is registered; returns the stack outputs."""
    outputs: dict = {}

    @pulumi.runtime.test
    def program():
        aws = component(network, options, **overrides)
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
    assert one(mocks, "-backup-key")["enableKeyRotation"] is True
    assert one(mocks, "-backup-key-alias")["name"] == f"alias/tonsurance-{network}-backups"
    block = one(mocks, "-public-access")
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    tls, write_once = json.loads(one(mocks, "-tls-only")["policy"])["Statement"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    # Finding 5: an object write without If-None-Match (one that could replace a backup) is refused to everyone.
    assert (write_once["Effect"], write_once["Principal"], write_once["Action"]) == ("Deny", {"AWS": "*"}, "s3:PutObject")
    assert write_once["Condition"] == {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}
    lock = one(mocks, "-object-lock")
    assert lock["objectLockEnabled"] == "Enabled"
    assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE" if network == "mainnet" else "GOVERNANCE",
                                                "days": retention}
    [lifecycle] = one(mocks, "-retention")["rules"]
    assert lifecycle["expiration"] == {"days": retention} and lifecycle["filter"] == {"prefix": f"{network}/"}
    # Finding 8: older versions have their own, longer retention.
    assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": 2 * retention}
    assert not [r for r in mocks.resources.values() if r.typ == "aws:s3/bucketReplicationConfig:BucketReplicationConfig"]
    [provider] = mocks.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "eu-central-1"


@pytest.mark.parametrize("network", ["testnet", "mainnet"])
def test_secret_containers_are_named_per_stack_tagged_with_rotation_and_hold_no_value(mocks, network):
    outputs = build(network)

    secrets = {r.inputs["name"]: r.inputs for r in mocks.of_type(SECRET)}
    names = {"deployer-mnemonic", *secret_names(redis_in_cluster=False, grafana=True)}  # public: the chart's Grafana
    assert {"pricing-keeper-mnemonic", "database-url", "jwt-secret", "redis-url", "grafana-admin"} <= names
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
    sets = secret_sets(redis_in_cluster=False, grafana=True)  # public stacks install the monitoring chart's Grafana
    assert "grafana" in sets and set(roles) == {f"tonsurance-{network}-secrets-{s}" for s in sets} | {f"tonsurance-{network}-backup"}
    accounts = {f"tonsurance-{network}-backup": (namespace, "tonsurance-backup"),
                **{f"tonsurance-{network}-secrets-{s}": (f"{namespace}-secrets", f"secrets-{s}") for s in sets}}
    for role, (account_namespace, account) in accounts.items():
        [trust] = json.loads(roles[role]["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"Federated": OIDC_ARN}
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert trust["Condition"]["StringEquals"] == {
            f"{ISSUER}:sub": f"system:serviceaccount:{account_namespace}:{account}", f"{ISSUER}:aud": "sts.amazonaws.com"}

    readers = []
    for secret_set, names in sets.items():
        policy = json.loads(one(mocks, f"-secrets-{secret_set}-read")["policy"])
        [read] = allowed(policy)
        assert read["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        assert read["Resource"] == [f"{secrets_arn}{name}-??????" for name in names]
        [deny] = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert deny["Resource"] == [f"{secrets_arn}deployer-mnemonic-??????"]
        readers.append(read)

    backup = allowed(json.loads(one(mocks, "-backup-write")["policy"]))
    by_sid = {s["Sid"]: s for s in backup}
    assert by_sid["WriteAndVerifyBackups"]["Action"] == ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion",
                                                         "s3:AbortMultipartUpload"]
    assert by_sid["WriteAndVerifyBackups"]["Resource"] == [f"arn:aws:s3:::tonsurance-backups-{network}/{network}/*"]
    assert by_sid["ListBackups"]["Condition"] == {"StringLike": {"s3:prefix": [f"{network}/*"]}}
    assert by_sid["UseTheBucketKey"]["Resource"] == ["arn:aws:mock:::aws-backup-key"]
    assert by_sid["SignManifests"] == {"Sid": "SignManifests", "Effect": "Allow", "Action": ["kms:Sign", "kms:Verify"],
                                       "Resource": ["arn:aws:mock:::aws-signing-key"]}
    assert not any("Delete" in a for s in backup for a in s["Action"])

    for statement in backup + readers:  # nothing is granted on everything
        assert all(a != "*" and not a.endswith(":*") for a in as_list(statement["Action"]))
        assert all(r.startswith((secrets_arn, f"arn:aws:s3:::tonsurance-backups-{network}", "arn:aws:mock:::aws-"))
                   for r in as_list(statement["Resource"]))
    assert outputs["backup_role_arn"] == "arn:aws:mock:::aws-backup-role"
    assert outputs["secret_set_role_arns"] == {s: f"arn:aws:mock:::aws-secrets-{s}-role" for s in sets}


@pytest.mark.parametrize("network", ["testnet", "mainnet"])
def test_only_the_deploy_role_reads_the_deployer_mnemonic(mocks, network):
    """Finding 4 of issue 27: the deployer mnemonic's own KMS key and a resource policy denying every other reader."""
    build(network)
    secrets = {r.inputs["name"].rsplit("/", 1)[1]: r.inputs for r in mocks.of_type(SECRET)}
    assert secrets["deployer-mnemonic"]["kmsKeyId"] == "arn:aws:mock:::aws-deployer-key"
    assert all("kmsKeyId" not in s for name, s in secrets.items() if name != "deployer-mnemonic")
    [deny] = json.loads(one(mocks, "-deployer-secret-policy")["policy"])["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", {"AWS": "*"}, ["secretsmanager:GetSecretValue"])
    assert deny["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": DEPLOY_ROLE_ARN}}
    key = {s["Sid"]: s for s in json.loads(one(mocks, "-deployer-key")["policy"])["Statement"]}
    assert key["DeployRoleDecrypts"]["Principal"] == {"AWS": DEPLOY_ROLE_ARN}
    assert key["NobodyElseDecrypts"]["Effect"] == "Deny"
    assert key["NobodyElseDecrypts"]["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": DEPLOY_ROLE_ARN}}
    assert not any(a in ("kms:*", "kms:Decrypt") for a in key["AdministerWithoutUse"]["Action"])


def test_only_the_backup_and_deploy_roles_sign_backup_manifests(mocks):
    build("mainnet")
    key = one(mocks, "-signing-key")
    assert (key["keyUsage"], key["customerMasterKeySpec"]) == ("SIGN_VERIFY", "ECC_NIST_P256")
    assert one(mocks, "-signing-key-alias")["name"] == "alias/tonsurance-mainnet-backup-signing"
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    signers = sorted(["arn:aws:mock:::aws-backup-role", DEPLOY_ROLE_ARN])
    assert statements["BackupAndDeploySign"]["Principal"] == {"AWS": signers}
    assert statements["NobodyElseSigns"]["Condition"] == {"StringNotEquals": {"aws:PrincipalArn": signers}}
    assert "kms:Sign" not in statements["AccountVerifies"]["Action"]


def test_backups_are_replicated_to_another_region_when_configured(mocks):
    build("mainnet", backupReplicaRegion="eu-west-1")
    providers = {r.inputs["region"] for r in mocks.of_type("pulumi:providers:aws")}
    assert providers == {"eu-central-1", "eu-west-1"}
    assert one(mocks, "-backups-replica")["bucket"] == "tonsurance-backups-mainnet-eu-west-1"
    assert one(mocks, "-object-lock-replica")["rule"]["defaultRetention"]["mode"] == "COMPLIANCE"
    [rule] = one(mocks, "-backups-replication")["rules"]
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}
    assert rule["destination"]["bucket"] == "arn:aws:mock:::aws-backups-replica"


@pytest.mark.parametrize("network, protected", [("testnet", False), ("mainnet", True)])
def test_mainnet_resources_are_protected_and_retained(mocks, network, protected):
    options = Recorder()
    build(network, options)

    children = {name: o for name, o in options.options.items() if name not in ("aws", "aws-provider")}
    # backup role and policy; key, alias, bucket and its six settings; signing key and alias; deployer key; secrets
    # and the deployer's policy; one role and policy per secret set
    assert len(children) == 2 + 9 + 2 + 1 + len(secret_names(redis_in_cluster=False, grafana=True)) + 1 + 1 + 2 * len(
        secret_sets(redis_in_cluster=False, grafana=True))
    assert all(bool(o.protect) is protected and bool(o.retain_on_delete) is protected for o in children.values())
