"""The type names of the resources the program registers, in one place: the dynamic resources declare their
type from these strings, and the policy pack and the tests look resources up by them."""
from __future__ import annotations

DYNAMIC_PREFIX = "pulumi-python:dynamic/"

# TON deployment (ton_deploy/)
TON_CONTRACT = "pulumi-python:dynamic/ton:Contract"
TON_SHARD_BATCH = "pulumi-python:dynamic/ton:ShardBatch"
TON_DEPLOYMENT = "pulumi-python:dynamic/ton:Deployment"
TON_RESOURCES = (TON_CONTRACT, TON_SHARD_BATCH, TON_DEPLOYMENT)

# Database (database/)
DATABASE_BACKUP = "pulumi-python:dynamic/database:Backup"
SQL_MIGRATIONS = "pulumi-python:dynamic/database:SqlMigrations"

# Kubernetes and AWS types the policy pack and the tests read
K8S_SECRET = "kubernetes:core/v1:Secret"  # pragma: allowlist secret (a type name)
K8S_CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
K8S_DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_CRON_JOB = "kubernetes:batch/v1:CronJob"
ARGO_ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
ARGO_ANALYSIS_TEMPLATE = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
S3_BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"


def dynamic_type(type_name: str) -> dict[str, str]:
    """The `module` and `name` a pulumi.dynamic.Resource subclass declares for `type_name`:
    `class TonContract(Resource, **dynamic_type(TON_CONTRACT))`."""
    module, _, name = type_name.removeprefix(DYNAMIC_PREFIX).partition(":")
    if not type_name.startswith(DYNAMIC_PREFIX) or not name:
        raise ValueError(f"{type_name!r} is not a dynamic resource type ({DYNAMIC_PREFIX}<module>:<name>)")
    return {"module": module, "name": name}
