"""Scheduled database backups of a public stack: a Kubernetes CronJob running `python -m database.backup_job`.

    BackupSchedule("backups", BackupScheduleArgs.from_stack_config(cfg, aws.backup_role_arn),
                   pulumi.ResourceOptions(provider=platform.provider))

Every 6 hours on mainnet and daily on testnet (the guide's backup schedule), never two at once
(`concurrencyPolicy: Forbid`). The job runs the same dump/upload/verify code as `DatabaseBackup`: the
`database` package's files are mounted from a ConfigMap (its checksum is on the pod template, so a code
change reaches the next run), in an image that brings Python 3.11, psycopg, boto3 and pg_dump 15
(`tonsurance:backupJobImage`). The pod's service account assumes the backup role (components/aws.py: write
once and read back under the bucket prefix, sign the manifest, nothing else) through the token EKS projects
for it; the pod mounts no Kubernetes API token, and may reach only DNS, PostgreSQL on private addresses and
HTTPS on public ones (S3, STS, KMS; never the instance metadata endpoint). The DSN comes from the services'
`database-url` Secret; libpq verifies the server with PGSSLMODE/PGSSLROOTCERT and the `database-ca` ConfigMap
(components/services/database_tls.py). The objects are built as plain manifests (`backup_manifests`) so tests check them as the API
server receives them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.services.database_tls import DatabaseTls
from monitoring.alerts import BACKUP_JOB_GRACE


@dataclass(frozen=True)
class Cadence:
    """How often a network's CronJob backs up; preflight's backup freshness limit follows it."""
    every_hours: int  # 1-24, dividing 24
    minute: int = 0
    hour: int = 0  # daily: the hour (UTC)

    @property
    def cron(self) -> str:
        hours = str(self.hour) if self.every_hours == 24 else f"*/{self.every_hours}"
        return f"{self.minute} {hours} * * *"


CADENCES = {"mainnet": Cadence(6), "testnet": Cadence(24, minute=30, hour=2)}  # every 6 hours; daily at 02:30 UTC
SCHEDULES = {network: cadence.cron for network, cadence in CADENCES.items()}
NAME = "database-backup"  # monitoring/alerts.py's BACKUP_CRONJOB watches it by this name
BACKUP_SERVICE_ACCOUNT = "tonsurance-backup"  # the job's; the stack's backup role trusts it (components/aws.py)
CODE_DIR = "/opt/tonsurance"
# The modules the job imports, all from the `database` package (the entry point and what it imports).
CODE_FILES = ("__init__.py", "backup.py", "backup_job.py", "child_env.py", "dsn.py", "signing.py", "storage.py")
DATABASE_URL_SECRET = ("database-url", "value")  # the services' ExternalSecret (name, key)
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "tonsurance",
          "app.kubernetes.io/component": "backup"}
_DATABASE_DIR = Path(__file__).resolve().parents[1] / "database"
DATABASE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")  # the database lives in the VPC
NOT_PUBLIC = (*DATABASE_RANGES, "169.254.0.0/16", "127.0.0.0/8", "100.64.0.0/10")  # link-local: the metadata endpoint


@dataclass(frozen=True)
class BackupScheduleArgs:
    network: str                   # testnet | mainnet: picks the schedule
    namespace: str
    image: str
    store_url: str                 # s3://bucket/prefix
    region: str
    role_arn: pulumi.Input[str]    # the backup role (components/aws.py)
    signing_key_arn: pulumi.Input[str] = ""  # the manifests' signing key (components/aws.py)
    bucket_owner: str | None = None  # the bucket owner's account id
    database_port: int = 5432
    database_tls: DatabaseTls | None = None  # PGSSLMODE/PGSSLROOTCERT and the `database-ca` ConfigMap mounted

    @classmethod
    def from_stack_config(cls, cfg, role_arn: pulumi.Input[str], signing_key_arn: pulumi.Input[str]) -> "BackupScheduleArgs":
        a = cfg.aws
        return cls(network=cfg.ton.network, namespace=cfg.kubernetes.namespace, image=a.backup_job_image,
                   store_url=f"s3://{a.backup_bucket}/{a.backup_prefix}", region=a.region, role_arn=role_arn,
                   signing_key_arn=signing_key_arn, bucket_owner=a.account_id, database_port=cfg.database.port,
                   database_tls=DatabaseTls.from_config(cfg.database))


def code_files() -> dict[str, str]:
    return {name: (_DATABASE_DIR / name).read_text() for name in CODE_FILES}


def backup_manifests(args: BackupScheduleArgs, role_arn: str, signing_key_arn: str) -> dict[str, dict]:
    """ServiceAccount, ConfigMap (the job's code), NetworkPolicy and CronJob, as the API server receives them."""
    files, tls = code_files(), args.database_tls
    checksum = hashlib.sha256("".join(f"{n}\0{files[n]}\0" for n in sorted(files)).encode()).hexdigest()

    def metadata(**extra) -> dict:
        return {"name": NAME, "namespace": args.namespace, "labels": LABELS, **extra}

    container = {
        "name": "backup",
        "image": args.image,
        "command": ["python", "-m", "database.backup_job", "--store", args.store_url, "--s3-region", args.region,
                    "--signing-key", f"kms:{signing_key_arn}",
                    *(["--expected-bucket-owner", args.bucket_owner] if args.bucket_owner else [])],
        "env": [
            {"name": "PYTHONPATH", "value": CODE_DIR},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            {"name": "HOME", "value": "/tmp"},
            {"name": "AWS_REGION", "value": args.region},
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": DATABASE_URL_SECRET[0],
                                                                    "key": DATABASE_URL_SECRET[1]}}},
            *(tls.env() if tls else []),
        ],
        "volumeMounts": [{"name": "code", "mountPath": f"{CODE_DIR}/database", "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}, *(tls.mounts() if tls else [])],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    pod = {
        "metadata": {"labels": LABELS, "annotations": {"tonsurance.io/code-checksum": checksum}},
        "spec": {
            "serviceAccountName": BACKUP_SERVICE_ACCOUNT,
            "automountServiceAccountToken": False,  # the job never calls the Kubernetes API
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": [{"name": "code", "configMap": {"name": NAME, "items": [{"key": n, "path": n} for n in CODE_FILES]}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}}, *(tls.volumes() if tls else [])],
        },
    }
    return {
        "ServiceAccount": {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
                           "metadata": {"name": BACKUP_SERVICE_ACCOUNT, "namespace": args.namespace, "labels": LABELS,
                                        "annotations": {"eks.amazonaws.com/role-arn": role_arn}}},
        "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(), "data": files},
        # Egress only: the cluster's DNS, PostgreSQL inside the VPC (private addresses) and HTTPS to public
        # addresses (S3, STS, KMS), never the instance metadata endpoint; nothing may connect to the job.
        "NetworkPolicy": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(),
                          "spec": {"podSelector": {"matchLabels": LABELS}, "policyTypes": ["Ingress", "Egress"],
                                   "egress": [
                                       {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                                       {"to": [{"ipBlock": {"cidr": cidr}} for cidr in DATABASE_RANGES],
                                        "ports": [{"protocol": "TCP", "port": args.database_port}]},
                                       {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NOT_PUBLIC)}}],
                                        "ports": [{"protocol": "TCP", "port": 443}]}]}},
        "CronJob": {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata(), "spec": {
            "schedule": SCHEDULES[args.network],
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": int(BACKUP_JOB_GRACE.total_seconds()),
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 5,
            "jobTemplate": {"metadata": {"labels": LABELS}, "spec": {
                "backoffLimit": 1, "activeDeadlineSeconds": 3 * 3600, "ttlSecondsAfterFinished": 7 * 86400,
                "template": pod}},
        }},
    }


class BackupSchedule(pulumi.ComponentResource):
    schedule: str
    cron_job_name: str

    def __init__(self, name: str, args: BackupScheduleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:backup:BackupSchedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        manifests = pulumi.Output.all(args.role_arn, args.signing_key_arn).apply(lambda arns: backup_manifests(args, *arns))
        static = backup_manifests(args, "", "")  # everything but the ARNs is known now

        account = k8s.core.v1.ServiceAccount(
            f"{name}-account", metadata=manifests.apply(lambda m: m["ServiceAccount"]["metadata"]),
            automount_service_account_token=False, opts=child)
        code = k8s.core.v1.ConfigMap(f"{name}-code", metadata=static["ConfigMap"]["metadata"],
                                     data=static["ConfigMap"]["data"], opts=child)
        k8s.networking.v1.NetworkPolicy(f"{name}-egress", metadata=static["NetworkPolicy"]["metadata"],
                                        spec=static["NetworkPolicy"]["spec"], opts=child)
        k8s.batch.v1.CronJob(f"{name}-cronjob", metadata=static["CronJob"]["metadata"],
                             spec=manifests.apply(lambda m: m["CronJob"]["spec"]),
                             opts=pulumi.ResourceOptions(parent=self, depends_on=[account, code]))
        self.schedule = SCHEDULES[args.network]
        self.cron_job_name = NAME
        self.register_outputs({"schedule": self.schedule, "cron_job": self.cron_job_name})
