"""What a public stack (testnet, mainnet) keeps in AWS: the backup bucket, the secret containers, the keys and the
roles its Kubernetes service accounts assume. The `local` stack never builds this component, so it never
loads the AWS provider.

    aws = TonsuranceAws("aws", TonsuranceAwsArgs.from_stack_config(cfg))
    pulumi.export("backup_bucket", aws.bucket_name)

- Backup bucket: versioned, encrypted by default with its own KMS key (rotated yearly), public access
  blocked, object lock (COMPLIANCE on mainnet, GOVERNANCE on testnet) for the backup retention, a policy
  refusing any request not made over TLS and any object write without `If-None-Match` (written once), a
  lifecycle rule expiring backups after the stack's retention and older versions after their own, longer
  one; replicated to `backupReplicaRegion` when set (a bucket there with the same rules).
- Backup signing key: an asymmetric KMS key (ECC_NIST_P256) that only the backup role and the deploy role may
  sign with; manifests signed with it are checked before any restore (database/signing.py).
- Secrets Manager *containers* `tonsurance/<stack>/<name>` for the deployer mnemonic and every secret the
  services read (components/services/catalog.py), tagged with their rotation period and owner from the
  guide's table. The program never sets a value: operators do, out of band
  (README, Security), so no secret value is ever in Pulumi state. The deployer mnemonic has its own KMS key
  and a resource policy: only the deploy role may read it, everyone else is denied explicitly.
- IAM roles for service accounts through the EKS cluster's OIDC provider: one per secret set
  (catalog.secret_sets), each reading only its set's secrets (never the deployer mnemonic) and trusted only by
  that set's reader account in `<namespace>-secrets`; the backup job may only write once (and read back, to
  verify) under its bucket prefix and sign with the signing key. No policy grants `*`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

# The service accounts that assume the roles (namespace: the stack's) are named by the components that run them.
from components.backup_schedule import BACKUP_SERVICE_ACCOUNT
from components.platform_charts import grafana_namespace
from components.services.catalog import (secret_id, secret_reader_account, secret_readers_namespace, secret_sets,
                                         secret_names as service_secret_names)

DEPLOYER_MNEMONIC = "deployer-mnemonic"
ROTATION_DAYS_TAG = "tonsurance:rotation-days"  # on every secret container; preflight's age limit for it
SIGNING_KEY_SPEC = "ECC_NIST_P256"  # database/signing.py signs with ECDSA_SHA_256
# Key administration without use: the account's administrators manage the keys but cannot decrypt or sign.
KEY_ADMIN_ACTIONS = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                     "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
                     "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"]


@dataclass(frozen=True)
class SecretKind:
    rotation_days: int  # the guide's "Secret Rotation Schedule"
    owner: str


SECRET_KINDS = {
    "deployer-wallet": SecretKind(30, "CTO"),
    "keeper-wallet": SecretKind(30, "DevOps"),
    "database": SecretKind(90, "DBA"),
    "api-key": SecretKind(90, "DevOps"),
    "encryption-key": SecretKind(90, "Security Team"),
}


def secret_kind(name: str) -> str:
    """The guide's secret type of one of the stack's secrets (the rotation table has one row per type)."""
    if name == DEPLOYER_MNEMONIC:
        return "deployer-wallet"
    if name.endswith("-mnemonic"):
        return "keeper-wallet"
    if name.startswith(("database-", "redis-")):
        return "database"
    if name in ("jwt-secret", "encryption-key"):
        return "encryption-key"
    return "api-key"  # market data keys, webhook URLs


def stack_secret_names(service_names: tuple[str, ...]) -> tuple[str, ...]:
    """The deployer's mnemonic (read by Pulumi only) and every secret the services read (service_catalog)."""
    return tuple(sorted({DEPLOYER_MNEMONIC, *service_names}))


@dataclass(frozen=True)
class TonsuranceAwsArgs:
    stack: str
    region: str
    namespace: str                 # where the service accounts live
    eks_oidc_provider_arn: str
    backup_bucket: str
    backup_prefix: str             # "" or ending in "/"
    backup_retention_days: int
    protected: bool                # mainnet: protected and retained on delete
    secret_names: tuple[str, ...]  # stack_secret_names(...)
    secret_sets: dict[str, tuple[str, ...]]  # the services' secrets by reader set (catalog.secret_sets)
    deploy_role_arn: str
    backup_version_retention_days: int
    backup_replica_region: str | None = None

    @classmethod
    def from_stack_config(cls, cfg) -> "TonsuranceAwsArgs":
        a = cfg.aws
        grafana = grafana_namespace(cfg.platform.charts) is not None  # its admin password is one of the stack's secrets
        names = stack_secret_names(service_secret_names(redis_in_cluster=cfg.services.redis_in_cluster, grafana=grafana))
        return cls(stack=cfg.stack, region=a.region, namespace=cfg.kubernetes.namespace,
                   eks_oidc_provider_arn=a.eks_oidc_provider_arn, backup_bucket=a.backup_bucket,
                   backup_prefix=a.backup_prefix, backup_retention_days=a.backup_retention_days,
                   protected=cfg.is_mainnet, secret_names=names,
                   secret_sets=secret_sets(redis_in_cluster=cfg.services.redis_in_cluster, grafana=grafana),
                   deploy_role_arn=a.deploy_role_arn, backup_version_retention_days=a.backup_version_retention_days,
                   backup_replica_region=a.backup_replica_region)

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    @property
    def partition(self) -> str:
        return self.eks_oidc_provider_arn.split(":")[1]

    @property
    def account_id(self) -> str:
        return self.eks_oidc_provider_arn.split(":")[4]

    @property
    def oidc_issuer(self) -> str:
        """The issuer without scheme (oidc.eks.<region>.amazonaws.com/id/<id>): the trust conditions' prefix."""
        return self.eks_oidc_provider_arn.split(":oidc-provider/", 1)[1]

    def secrets_arn_pattern(self, name: str = "*") -> str:
        # Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
        suffix = "*" if name == "*" else f"{name}-??????"
        return (f"arn:{self.partition}:secretsmanager:{self.region}:{self.account_id}:secret:"
                f"{secret_id(self.stack, suffix)}")


def trust_policy(args: TonsuranceAwsArgs, service_account: str, namespace: str | None = None) -> dict:
    """Only this service account of this namespace, through the cluster's OIDC provider, may assume the role."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": args.eks_oidc_provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            f"{args.oidc_issuer}:sub": f"system:serviceaccount:{namespace or args.namespace}:{service_account}",
            f"{args.oidc_issuer}:aud": "sts.amazonaws.com",
        }},
    }]}


def secret_set_policy(args: TonsuranceAwsArgs, names: tuple[str, ...]) -> dict:
    """Read the secrets of one set, and nothing else; the deployer mnemonic is for Pulumi, never for pods."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadOneSecretSet", "Effect": "Allow",
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": [args.secrets_arn_pattern(name) for name in names]},
        {"Sid": "NeverTheDeployerMnemonic", "Effect": "Deny",
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": [args.secrets_arn_pattern(DEPLOYER_MNEMONIC)]},
    ]}


def deployer_secret_policy(args: TonsuranceAwsArgs) -> dict:
    """The deployer mnemonic's resource policy: nobody but the deploy role reads it, whatever IAM grants."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "OnlyTheDeployRoleReads", "Effect": "Deny", "Principal": {"AWS": "*"},
        "Action": ["secretsmanager:GetSecretValue"], "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalArn": args.deploy_role_arn}},
    }]}


def deployer_key_policy(args: TonsuranceAwsArgs) -> dict:
    """The deployer mnemonic's own KMS key: administered by the account, used to decrypt by the deploy role only
    (through Secrets Manager), and to encrypt by any principal of the account (operators set the value)."""
    via_secrets_manager = {"kms:ViaService": f"secretsmanager.{args.region}.amazonaws.com"}
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AdministerWithoutUse", "Effect": "Allow", "Principal": {"AWS": args.root},
         "Action": KEY_ADMIN_ACTIONS, "Resource": "*"},
        {"Sid": "DeployRoleDecrypts", "Effect": "Allow", "Principal": {"AWS": args.deploy_role_arn},
         "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*", "Condition": {"StringEquals": via_secrets_manager}},
        {"Sid": "OperatorsSetTheValue", "Effect": "Allow", "Principal": {"AWS": args.root},
         "Action": ["kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": via_secrets_manager}},
        {"Sid": "NobodyElseDecrypts", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt"],
         "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalArn": args.deploy_role_arn}}},
    ]}


def signing_key_policy(args: TonsuranceAwsArgs, backup_role_arn: str) -> dict:
    """Backup manifests' signing key: the backup job and the deploy role sign; the account verifies."""
    signers = sorted({backup_role_arn, args.deploy_role_arn})
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AdministerWithoutUse", "Effect": "Allow", "Principal": {"AWS": args.root},
         "Action": KEY_ADMIN_ACTIONS, "Resource": "*"},
        {"Sid": "AccountVerifies", "Effect": "Allow", "Principal": {"AWS": args.root},
         "Action": ["kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "BackupAndDeploySign", "Effect": "Allow", "Principal": {"AWS": signers}, "Action": ["kms:Sign"],
         "Resource": "*"},
        {"Sid": "NobodyElseSigns", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["kms:Sign"],
         "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalArn": signers}}},
    ]}


def backup_policy(args: TonsuranceAwsArgs, kms_key_arn: str, signing_key_arn: str) -> dict:
    """Write backups under the prefix (once: the bucket policy wants If-None-Match) and read them back, by version,
    to verify; list only that prefix; use the bucket key; sign manifests."""
    bucket_arn = f"arn:{args.partition}:s3:::{args.backup_bucket}"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "WriteAndVerifyBackups", "Effect": "Allow",
         "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:AbortMultipartUpload"],
         "Resource": [f"{bucket_arn}/{args.backup_prefix}*"]},
        {"Sid": "ListBackups", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
         "Resource": [bucket_arn], "Condition": {"StringLike": {"s3:prefix": [f"{args.backup_prefix}*"]}}},
        {"Sid": "UseTheBucketKey", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": [kms_key_arn]},
        {"Sid": "SignManifests", "Effect": "Allow", "Action": ["kms:Sign", "kms:Verify"], "Resource": [signing_key_arn]},
    ]}


def bucket_policy(args: TonsuranceAwsArgs, bucket: str | None = None) -> dict:
    """Refuse every request that is not made over TLS, and every object write that could replace an object:
    PutObject and CompleteMultipartUpload must carry If-None-Match (S3 then refuses an existing key)."""
    bucket_arn = f"arn:{args.partition}:s3:::{bucket or args.backup_bucket}"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
         "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "WriteOnce", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:PutObject",
         "Resource": [f"{bucket_arn}/*"],
         # CreateMultipartUpload and UploadPart take no condition header: only the creating calls must carry it.
         # (Replication writes replicas with s3:ReplicateObject, which this does not touch.)
         "Condition": {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}},
    ]}


def replication_policy(args: TonsuranceAwsArgs, source_key: str, replica_bucket: str, replica_key: str) -> dict:
    source, replica = (f"arn:{args.partition}:s3:::{b}" for b in (args.backup_bucket, replica_bucket))
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadSource", "Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
         "Resource": [source]},
        {"Sid": "ReadSourceVersions", "Effect": "Allow",
         "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
                    "s3:GetObjectRetention", "s3:GetObjectLegalHold"], "Resource": [f"{source}/*"]},
        {"Sid": "WriteReplica", "Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateTags"],
         "Resource": [f"{replica}/*"]},
        {"Sid": "Keys", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [source_key]},
        {"Sid": "ReplicaKey", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": [replica_key]},
    ]}


def tags(args: TonsuranceAwsArgs, **extra: str) -> dict[str, str]:
    return {"tonsurance:stack": args.stack, "tonsurance:managed-by": "pulumi", **extra}


class TonsuranceAws(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    signing_key_arn: pulumi.Output[str]
    backup_role_arn: pulumi.Output[str]
    secret_set_role_arns: dict[str, pulumi.Output[str]]
    secret_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: TonsuranceAwsArgs, opts: pulumi.ResourceOptions | None = None):
        import pulumi_aws as aws  # here, not at the top: the local stack never loads the AWS SDK (~0.3 s)

        super().__init__("tonsurance:aws:TonsuranceAws", name, None, opts)
        provider = aws.Provider(f"{name}-provider", region=args.region, opts=pulumi.ResourceOptions(parent=self))

        def options(**extra) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=extra.pop("provider", provider), protect=args.protected,
                                          retain_on_delete=args.protected, **extra)

        backup = aws.iam.Role(
            f"{name}-backup-role", name=f"tonsurance-{args.stack}-backup",
            assume_role_policy=json.dumps(trust_policy(args, BACKUP_SERVICE_ACCOUNT)), tags=tags(args),
            opts=options())
        bucket, key = self._bucket(name, args, args.backup_bucket, "", options)
        signing = aws.kms.Key(f"{name}-signing-key", description=f"tonsurance {args.stack}: backup manifest signatures",
                              key_usage="SIGN_VERIFY", customer_master_key_spec=SIGNING_KEY_SPEC,
                              deletion_window_in_days=30, tags=tags(args),
                              policy=backup.arn.apply(lambda arn: json.dumps(signing_key_policy(args, arn))),
                              opts=options())
        aws.kms.Alias(f"{name}-signing-key-alias", name=f"alias/tonsurance-{args.stack}-backup-signing",
                      target_key_id=signing.key_id, opts=options())
        aws.iam.RolePolicy(f"{name}-backup-write", role=backup.id, policy=pulumi.Output.all(key.arn, signing.arn).apply(
            lambda arns: json.dumps(backup_policy(args, *arns))), opts=options())
        if args.backup_replica_region:
            self._replica(name, args, bucket, key, options)

        deployer_key = aws.kms.Key(f"{name}-deployer-key", description=f"tonsurance {args.stack}: the deployer mnemonic",
                                   enable_key_rotation=True, deletion_window_in_days=30, tags=tags(args),
                                   policy=json.dumps(deployer_key_policy(args)), opts=options())
        self.secret_ids = {}
        for secret_name in args.secret_names:
            kind = secret_kind(secret_name)
            deployer = secret_name == DEPLOYER_MNEMONIC
            secret = aws.secretsmanager.Secret(
                f"{name}-secret-{secret_name}", name=secret_id(args.stack, secret_name),
                description=f"tonsurance {args.stack}: {secret_name} ({kind}); value set out of band, README Security",
                recovery_window_in_days=30 if args.protected else 7, kms_key_id=deployer_key.arn if deployer else None,
                tags=tags(args, **{"tonsurance:secret-kind": kind,
                                   ROTATION_DAYS_TAG: str(SECRET_KINDS[kind].rotation_days),
                                   "tonsurance:owner": SECRET_KINDS[kind].owner}),
                opts=options())
            if deployer:
                aws.secretsmanager.SecretPolicy(f"{name}-deployer-secret-policy", secret_arn=secret.arn,
                                                policy=json.dumps(deployer_secret_policy(args)), opts=options())
            self.secret_ids[secret_name] = secret.name

        self.secret_set_role_arns = {}
        readers = secret_readers_namespace(args.namespace)
        for secret_set, names in args.secret_sets.items():
            role = aws.iam.Role(
                f"{name}-secrets-{secret_set}-role", name=f"tonsurance-{args.stack}-secrets-{secret_set}",
                assume_role_policy=json.dumps(trust_policy(args, secret_reader_account(secret_set), readers)),
                tags=tags(args), opts=options())
            aws.iam.RolePolicy(f"{name}-secrets-{secret_set}-read", role=role.id,
                               policy=json.dumps(secret_set_policy(args, names)), opts=options())
            self.secret_set_role_arns[secret_set] = role.arn

        self.bucket_name = bucket.bucket
        self.kms_key_arn = key.arn
        self.signing_key_arn = signing.arn
        self.backup_role_arn = backup.arn
        self.register_outputs(self.stack_outputs())

    @staticmethod
    def _bucket(name: str, args: TonsuranceAwsArgs, bucket_name: str, suffix: str, options):
        """A backup bucket and its KMS key: versioned, encrypted, private, TLS only, written once, object-locked for
        the retention, backups and their older versions expired (the source bucket; with suffix, its replica)."""
        import pulumi_aws as aws
        key = aws.kms.Key(f"{name}-backup-key{suffix}", description=f"tonsurance {args.stack}: backup bucket encryption",
                          enable_key_rotation=True, deletion_window_in_days=30, tags=tags(args), opts=options())
        aws.kms.Alias(f"{name}-backup-key-alias{suffix}", name=f"alias/tonsurance-{args.stack}-backups{suffix}",
                      target_key_id=key.key_id, opts=options())
        bucket = aws.s3.Bucket(f"{name}-backups{suffix}", bucket=bucket_name, force_destroy=False,
                               tags=tags(args, **{"tonsurance:purpose": "database-backups"}), opts=options())
        on_bucket = options(depends_on=[bucket])
        versioning = aws.s3.BucketVersioning(f"{name}-backups-versioning{suffix}", bucket=bucket.id,
                                             versioning_configuration={"status": "Enabled"}, opts=on_bucket)
        aws.s3.BucketServerSideEncryptionConfiguration(f"{name}-backups-encryption{suffix}", bucket=bucket.id, rules=[{
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
            "bucket_key_enabled": True,
        }], opts=on_bucket)
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-backups-public-access{suffix}", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=on_bucket)
        aws.s3.BucketPolicy(f"{name}-backups-tls-only{suffix}", bucket=bucket.id,
                            policy=json.dumps(bucket_policy(args, bucket_name)),
                            opts=options(depends_on=[bucket, public_access]))
        # Nobody (COMPLIANCE: not even the account's root) deletes or overwrites a backup version before its time.
        aws.s3.BucketObjectLockConfiguration(f"{name}-backups-object-lock{suffix}", bucket=bucket.id,
                                             object_lock_enabled="Enabled", rule={"default_retention": {
                                                 "mode": "COMPLIANCE" if args.protected else "GOVERNANCE",
                                                 "days": args.backup_retention_days}},
                                             opts=options(depends_on=[versioning]))
        aws.s3.BucketLifecycleConfiguration(f"{name}-backups-retention{suffix}", bucket=bucket.id, rules=[{
            "id": "expire-backups",
            "status": "Enabled",
            "filter": {"prefix": args.backup_prefix},
            "expiration": {"days": args.backup_retention_days},
            "noncurrent_version_expiration": {"noncurrent_days": args.backup_version_retention_days},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
        }], opts=on_bucket)
        return bucket, key

    def _replica(self, name: str, args: TonsuranceAwsArgs, source, source_key, options):
        """The bucket's copy in another region: the same rules, every new version replicated (deletions are not)."""
        import pulumi_aws as aws
        region = args.backup_replica_region
        in_region = aws.Provider(f"{name}-provider-replica", region=region, opts=pulumi.ResourceOptions(parent=self))
        replica, replica_key = self._bucket(name, args, f"{args.backup_bucket}-{region}", "-replica",
                                            lambda **extra: options(provider=in_region, **extra))
        role = aws.iam.Role(f"{name}-replication-role", name=f"tonsurance-{args.stack}-backup-replication",
                            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                                "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                "Action": "sts:AssumeRole"}]}), tags=tags(args), opts=options())
        aws.iam.RolePolicy(f"{name}-replication", role=role.id, policy=pulumi.Output.all(
            source_key.arn, replica.bucket, replica_key.arn).apply(lambda v: json.dumps(replication_policy(args, *v))),
            opts=options())
        aws.s3.BucketReplicationConfig(f"{name}-backups-replication", bucket=source.id, role=role.arn, rules=[{
            "id": "replicate-backups", "status": "Enabled", "filter": {"prefix": args.backup_prefix},
            "delete_marker_replication": {"status": "Disabled"},
            "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
            "destination": {"bucket": replica.arn, "encryption_configuration": {"replica_kms_key_id": replica_key.arn}},
        }], opts=options(depends_on=[replica]))

    def stack_outputs(self) -> dict[str, object]:
        return {
            "backup_bucket": self.bucket_name,
            "backup_kms_key_arn": self.kms_key_arn,
            "backup_signing_key_arn": self.signing_key_arn,
            "backup_role_arn": self.backup_role_arn,
            "secret_set_role_arns": pulumi.Output.all(**self.secret_set_role_arns),
            "secret_ids": pulumi.Output.all(**self.secret_ids),
        }
