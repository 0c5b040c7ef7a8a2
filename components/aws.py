"""What a public stack (testnet, mainnet) keeps in AWS: the backup bucket, the secret containers and the
roles its Kubernetes service accounts assume. The `local` stack never builds this component, so it never
loads the AWS provider.

    aws = TonsuranceAws("aws", TonsuranceAwsArgs.from_stack_config(cfg))
    pulumi.export("backup_bucket", aws.bucket_name)

- Backup bucket: versioned, encrypted by default with its own KMS key (rotated yearly), public access
  blocked, a policy refusing any request not made over TLS, and a lifecycle rule expiring backups after
  the stack's retention.
- Secrets Manager *containers* `tonsurance/<stack>/<name>` for the deployer mnemonic and every secret the
  services read (components/services/catalog.py), tagged with their rotation period and owner from the
  guide's table. The program never sets a value: operators do, out of band
  (README, Security), so no secret value is ever in Pulumi state.
- IAM roles for service accounts through the EKS cluster's OIDC provider: External Secrets may read only
  `tonsurance/<stack>/*` (never the deployer mnemonic, which only Pulumi reads); the backup job may only
  write (and read back, to verify) under its bucket prefix. No policy grants `*`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

# The service accounts that assume the roles (namespace: the stack's) are named by the components that run them.
from components.backup_schedule import BACKUP_SERVICE_ACCOUNT
from components.services.catalog import EXTERNAL_SECRETS_SERVICE_ACCOUNT, secret_id, secret_names as service_secret_names

DEPLOYER_MNEMONIC = "deployer-mnemonic"


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

    @classmethod
    def from_stack_config(cls, cfg) -> "TonsuranceAwsArgs":
        a = cfg.aws
        names = stack_secret_names(service_secret_names(redis_in_cluster=cfg.services.redis_in_cluster))
        return cls(stack=cfg.stack, region=a.region, namespace=cfg.kubernetes.namespace,
                   eks_oidc_provider_arn=a.eks_oidc_provider_arn, backup_bucket=a.backup_bucket,
                   backup_prefix=a.backup_prefix, backup_retention_days=a.backup_retention_days,
                   protected=cfg.is_mainnet, secret_names=names)

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


def trust_policy(args: TonsuranceAwsArgs, service_account: str) -> dict:
    """Only this service account of this namespace, through the cluster's OIDC provider, may assume the role."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": args.eks_oidc_provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            f"{args.oidc_issuer}:sub": f"system:serviceaccount:{args.namespace}:{service_account}",
            f"{args.oidc_issuer}:aud": "sts.amazonaws.com",
        }},
    }]}


def external_secrets_policy(args: TonsuranceAwsArgs) -> dict:
    """Read the stack's secrets, and nothing else; the deployer mnemonic is for Pulumi, never for pods."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadStackSecrets", "Effect": "Allow",
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": [args.secrets_arn_pattern()]},
        {"Sid": "NeverTheDeployerMnemonic", "Effect": "Deny",
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": [args.secrets_arn_pattern(DEPLOYER_MNEMONIC)]},
    ]}


def backup_policy(args: TonsuranceAwsArgs, kms_key_arn: str) -> dict:
    """Write backups under the prefix and read them back to verify; list only that prefix; use the bucket key."""
    bucket_arn = f"arn:{args.partition}:s3:::{args.backup_bucket}"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "WriteAndVerifyBackups", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": [f"{bucket_arn}/{args.backup_prefix}*"]},
        {"Sid": "ListBackups", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn],
         "Condition": {"StringLike": {"s3:prefix": [f"{args.backup_prefix}*"]}}},
        {"Sid": "UseTheBucketKey", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": [kms_key_arn]},
    ]}


def bucket_policy(args: TonsuranceAwsArgs) -> dict:
    """Refuse every request that is not made over TLS."""
    bucket_arn = f"arn:{args.partition}:s3:::{args.backup_bucket}"
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]}


def tags(args: TonsuranceAwsArgs, **extra: str) -> dict[str, str]:
    return {"tonsurance:stack": args.stack, "tonsurance:managed-by": "pulumi", **extra}


class TonsuranceAws(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    backup_role_arn: pulumi.Output[str]
    external_secrets_role_arn: pulumi.Output[str]
    secret_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: TonsuranceAwsArgs, opts: pulumi.ResourceOptions | None = None):
        import pulumi_aws as aws  # here, not at the top: the local stack never loads the AWS SDK (~0.3 s)

        super().__init__("tonsurance:aws:TonsuranceAws", name, None, opts)
        provider = aws.Provider(f"{name}-provider", region=args.region, opts=pulumi.ResourceOptions(parent=self))

        def options(**extra) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, protect=args.protected,
                                          retain_on_delete=args.protected, **extra)

        key = aws.kms.Key(f"{name}-backup-key", description=f"tonsurance {args.stack}: backup bucket encryption",
                          enable_key_rotation=True, deletion_window_in_days=30, tags=tags(args), opts=options())
        aws.kms.Alias(f"{name}-backup-key-alias", name=f"alias/tonsurance-{args.stack}-backups",
                      target_key_id=key.key_id, opts=options())
        bucket = aws.s3.Bucket(f"{name}-backups", bucket=args.backup_bucket, force_destroy=False,
                               tags=tags(args, **{"tonsurance:purpose": "database-backups"}), opts=options())
        on_bucket = options(depends_on=[bucket])
        aws.s3.BucketVersioning(f"{name}-backups-versioning", bucket=bucket.id,
                                versioning_configuration={"status": "Enabled"}, opts=on_bucket)
        aws.s3.BucketServerSideEncryptionConfiguration(f"{name}-backups-encryption", bucket=bucket.id, rules=[{
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
            "bucket_key_enabled": True,
        }], opts=on_bucket)
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-backups-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=on_bucket)
        aws.s3.BucketPolicy(f"{name}-backups-tls-only", bucket=bucket.id, policy=json.dumps(bucket_policy(args)),
                            opts=options(depends_on=[bucket, public_access]))
        aws.s3.BucketLifecycleConfiguration(f"{name}-backups-retention", bucket=bucket.id, rules=[{
            "id": "expire-backups",
            "status": "Enabled",
            "filter": {"prefix": args.backup_prefix},
            "expiration": {"days": args.backup_retention_days},
            "noncurrent_version_expiration": {"noncurrent_days": args.backup_retention_days},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
        }], opts=on_bucket)

        self.secret_ids = {}
        for secret_name in args.secret_names:
            kind = secret_kind(secret_name)
            secret = aws.secretsmanager.Secret(
                f"{name}-secret-{secret_name}", name=secret_id(args.stack, secret_name),
                description=f"tonsurance {args.stack}: {secret_name} ({kind}); value set out of band, README Security",
                recovery_window_in_days=30 if args.protected else 7,
                tags=tags(args, **{"tonsurance:secret-kind": kind,
                                   "tonsurance:rotation-days": str(SECRET_KINDS[kind].rotation_days),
                                   "tonsurance:owner": SECRET_KINDS[kind].owner}),
                opts=options())
            self.secret_ids[secret_name] = secret.name

        external_secrets = aws.iam.Role(
            f"{name}-external-secrets-role", name=f"tonsurance-{args.stack}-external-secrets",
            assume_role_policy=json.dumps(trust_policy(args, EXTERNAL_SECRETS_SERVICE_ACCOUNT)),
            tags=tags(args), opts=options())
        aws.iam.RolePolicy(f"{name}-external-secrets-read", role=external_secrets.id,
                           policy=json.dumps(external_secrets_policy(args)), opts=options())
        backup = aws.iam.Role(
            f"{name}-backup-role", name=f"tonsurance-{args.stack}-backup",
            assume_role_policy=json.dumps(trust_policy(args, BACKUP_SERVICE_ACCOUNT)), tags=tags(args),
            opts=options())
        aws.iam.RolePolicy(f"{name}-backup-write", role=backup.id,
                           policy=key.arn.apply(lambda arn: json.dumps(backup_policy(args, arn))), opts=options())

        self.bucket_name = bucket.bucket
        self.kms_key_arn = key.arn
        self.backup_role_arn = backup.arn
        self.external_secrets_role_arn = external_secrets.arn
        self.register_outputs(self.stack_outputs())

    def stack_outputs(self) -> dict[str, object]:
        return {
            "backup_bucket": self.bucket_name,
            "backup_kms_key_arn": self.kms_key_arn,
            "backup_role_arn": self.backup_role_arn,
            "external_secrets_role_arn": self.external_secrets_role_arn,
            "secret_ids": pulumi.Output.all(**self.secret_ids),
        }
