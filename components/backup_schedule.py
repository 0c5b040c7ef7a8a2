"""Scheduled database backups of a public stack: a Kubernetes CronJob running `python -m database.backup_job`.

    BackupSchedule("backups", BackupScheduleArgs.from_stack_config(cfg, aws.backup_role_arn),
                   pulumi.ResourceOptions(provider=platform.provider))

Every 6 hours on mainnet and daily on testnet (the guide's backup schedule), never two at once
(`concurrencyPolicy: Forbid`). The job runs the same dump/upload/verify code as `DatabaseBackup`: the
`database` package's files are mounted from a ConfigMap (its checksum is on the pod template, so a code
change reaches the next run), in an image that brings Python 3.11, psycopg, boto3 and pg_dump 15
(`tonsurance:backupJobImage`). The pod's service account assumes the backup role (components/aws.py: write
and read back under the bucket prefix, nothing else); the DSN comes from the services' `database-url`
Secret. The objects are built as plain manifests (`backup_manifests`) so tests check them as the API
server receives them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

SCHEDULES = {"mainnet": "0 */6 * * *", "testnet": "30 2 * * *"}  # every 6 hours; daily at 02:30 UTC
NAME = "database-backup"
BACKUP_SERVICE_ACCOUNT = "tonsurance-backup"  # the job's; the stack's backup role trusts it (components/aws.py)
CODE_DIR = "/opt/tonsurance"
# The modules the job imports, all from the `database` package (dsn, storage, backup and the entry point).
CODE_FILES = ("__init__.py", "backup.py", "backup_job.py", "dsn.py", "storage.py")
DATABASE_URL_SECRET = ("database-url", "value")  # the services' ExternalSecret (name, key)
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "tonsurance",
          "app.kubernetes.io/component": "backup"}
_DATABASE_DIR = Path(__file__).resolve().parents[1] / "database"


@dataclass(frozen=True)
class BackupScheduleArgs:
    network: str                   # testnet | mainnet: picks the schedule
    namespace: str
    image: str
    store_url: str                 # s3://bucket/prefix
    region: str
    role_arn: pulumi.Input[str]    # the backup role (components/aws.py)

    @classmethod
    def from_stack_config(cls, cfg, role_arn: pulumi.Input[str]) -> "BackupScheduleArgs":
        a = cfg.aws
        return cls(network=cfg.ton.network, namespace=cfg.kubernetes.namespace, image=a.backup_job_image,
                   store_url=f"s3://{a.backup_bucket}/{a.backup_prefix}", region=a.region, role_arn=role_arn)


def code_files() -> dict[str, str]:
    return {name: (_DATABASE_DIR / name).read_text() for name in CODE_FILES}


def backup_manifests(args: BackupScheduleArgs, role_arn: str) -> dict[str, dict]:
    """ServiceAccount, ConfigMap (the job's code), NetworkPolicy and CronJob, as the API server receives them."""
    files = code_files()
    checksum = hashlib.sha256("".join(f"{n}\0{files[n]}\0" for n in sorted(files)).encode()).hexdigest()

    def metadata(**extra) -> dict:
        return {"name": NAME, "namespace": args.namespace, "labels": LABELS, **extra}

    container = {
        "name": "backup",
        "image": args.image,
        "command": ["python", "-m", "database.backup_job", "--store", args.store_url, "--s3-region", args.region],
        "env": [
            {"name": "PYTHONPATH", "value": CODE_DIR},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            {"name": "HOME", "value": "/tmp"},
            {"name": "AWS_REGION", "value": args.region},
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": DATABASE_URL_SECRET[0],
                                                                    "key": DATABASE_URL_SECRET[1]}}},
        ],
        "volumeMounts": [{"name": "code", "mountPath": f"{CODE_DIR}/database", "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    pod = {
        "metadata": {"labels": LABELS, "annotations": {"tonsurance.io/code-checksum": checksum}},
        "spec": {
            "serviceAccountName": BACKUP_SERVICE_ACCOUNT,
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
            "volumes": [{"name": "code", "configMap": {"name": NAME, "items": [{"key": n, "path": n} for n in CODE_FILES]}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}}],
        },
    }
    return {
        "ServiceAccount": {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
            "name": BACKUP_SERVICE_ACCOUNT, "namespace": args.namespace, "labels": LABELS,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn}}},
        "ConfigMap": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(), "data": files},
        # Egress only: DNS, PostgreSQL and HTTPS (S3, STS); nothing may connect to the job.
        "NetworkPolicy": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(),
                          "spec": {"podSelector": {"matchLabels": LABELS}, "policyTypes": ["Ingress", "Egress"],
                                   "egress": [{"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                                              {"ports": [{"protocol": "TCP", "port": 5432}]},
                                              {"ports": [{"protocol": "TCP", "port": 443}]}]}},
        "CronJob": {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata(), "spec": {
            "schedule": SCHEDULES[args.network],
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
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
        manifests = pulumi.Output.from_input(args.role_arn).apply(lambda arn: backup_manifests(args, arn))
        static = backup_manifests(args, "")  # everything but the role ARN is known now

        account = k8s.core.v1.ServiceAccount(
            f"{name}-account", metadata=manifests.apply(lambda m: m["ServiceAccount"]["metadata"]), opts=child)
        code = k8s.core.v1.ConfigMap(f"{name}-code", metadata=static["ConfigMap"]["metadata"],
                                     data=static["ConfigMap"]["data"], opts=child)
        k8s.networking.v1.NetworkPolicy(f"{name}-egress", metadata=static["NetworkPolicy"]["metadata"],
                                        spec=static["NetworkPolicy"]["spec"], opts=child)
        k8s.batch.v1.CronJob(f"{name}-cronjob", metadata=static["CronJob"]["metadata"], spec=static["CronJob"]["spec"],
                             opts=pulumi.ResourceOptions(parent=self, depends_on=[account, code]))
        self.schedule = SCHEDULES[args.network]
        self.cron_job_name = NAME
        self.register_outputs({"schedule": self.schedule, "cron_job": self.cron_job_name})
