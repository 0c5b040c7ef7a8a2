"""The backup CronJob's objects (components/backup_schedule.py) in the session's real API server: the server
accepts them as built, keeps the schedule and concurrency policy, and a Job started from the CronJob gets
a pod (simulated by KWOK) with the backup service account, the code volume and the DSN from its Secret."""
from __future__ import annotations

import json
import time

import yaml

from components.backup_schedule import BackupScheduleArgs, backup_manifests
from components.services.pod_security import RESTRICTED_NAMESPACE_LABELS
from tests.kube import get_object

ROLE = "arn:aws:iam::123456789012:role/tonsurance-mainnet-backup"
KEY = "arn:aws:kms:eu-central-1:123456789012:key/0f0f0f0f-aaaa-bbbb-cccc-0123456789ab"


def test_backup_objects_are_accepted_and_a_job_from_the_cronjob_runs(kube_cluster, kube_namespace, tmp_path):
    args = BackupScheduleArgs(network="mainnet", namespace=kube_namespace, image="ghcr.io/tonsurance/db-tools:1.0.0",
                              store_url="s3://tonsurance-backups/mainnet/", region="eu-central-1", role_arn=ROLE)
    manifests = backup_manifests(args, ROLE, KEY)
    # The stack's namespace enforces Pod Security "restricted" (components/platform.py): the job's pod must pass it.
    kube_cluster.kubectl("label", "namespace", kube_namespace,
                         *[f"{k}={v}" for k, v in RESTRICTED_NAMESPACE_LABELS.items()], "--overwrite")
    path = tmp_path / "backup.yaml"
    path.write_text(yaml.safe_dump_all(list(manifests.values())))
    kube_cluster.kubectl("apply", "--server-side", "-f", str(path))

    cron = get_object(kube_cluster, "cronjob", "database-backup", "-n", kube_namespace)
    assert cron["spec"]["schedule"] == "0 */6 * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["timeZone"] == "Etc/UTC"
    account = get_object(kube_cluster, "serviceaccount", "tonsurance-backup", "-n", kube_namespace)
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE
    config_map = get_object(kube_cluster, "configmap", "database-backup", "-n", kube_namespace)
    assert config_map["data"] == manifests["ConfigMap"]["data"]
    assert get_object(kube_cluster, "networkpolicy", "database-backup", "-n", kube_namespace)

    kube_cluster.kubectl("create", "job", "manual-backup", "--from=cronjob/database-backup", "-n", kube_namespace)
    deadline = time.monotonic() + 60
    while True:
        pods = json.loads(kube_cluster.kubectl("get", "pods", "-n", kube_namespace, "-l", "job-name=manual-backup",
                                               "-o", "json").stdout)["items"]
        if pods or time.monotonic() > deadline:
            break
        time.sleep(1)
    [pod] = pods
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "tonsurance-backup" and spec["restartPolicy"] == "Never"
    [container] = spec["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "database-url", "key": "value"}
    assert {"name": "code", "mountPath": "/opt/tonsurance/database", "readOnly": True} in container["volumeMounts"]
    # Finding 8 of issue 27: the API server mounted no service account token into the pod.
    assert spec["automountServiceAccountToken"] is False
    assert not [v for v in spec["volumes"] if v["name"].startswith("kube-api-access")]
    assert not [m for m in container["volumeMounts"] if "serviceaccount" in m["mountPath"]]

    # And a pod that breaks the profile (root, privileged) is refused by the API server itself.
    root_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root", "namespace": kube_namespace},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                         "securityContext": {"privileged": True, "runAsUser": 0}}]}}
    refused = kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(root_pod), check=False)
    assert refused.returncode != 0 and 'violates PodSecurity "restricted' in refused.stderr


def test_the_component_through_the_engine_into_the_api_server(kube_cluster, kube_namespace, tmp_path):
    import pulumi
    import pulumi_kubernetes as k8s

    from components.backup_schedule import BackupSchedule
    from tests.e2e.harness import inline_stack

    args = BackupScheduleArgs(network="testnet", namespace=kube_namespace, image="ghcr.io/tonsurance/db-tools:1.0.0",
                              store_url="s3://tonsurance-backups-testnet/testnet/", region="eu-central-1",
                              role_arn=ROLE)

    def program():
        provider = k8s.Provider("cluster", kubeconfig=str(kube_cluster.kubeconfig))
        BackupSchedule("backups", args, pulumi.ResourceOptions(provider=provider))

    stack = inline_stack(tmp_path / "p", program)
    assert stack.up(on_output=lambda _line: None).summary.result == "succeeded"
    cron = get_object(kube_cluster, "cronjob", "database-backup", "-n", kube_namespace)
    assert cron["spec"]["schedule"] == "30 2 * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    # stack, provider, component and its four objects: all unchanged on a second run
    assert stack.up(on_output=lambda _line: None).summary.resource_changes == {"same": 7}
    stack.destroy(on_output=lambda _line: None)
    assert get_object(kube_cluster, "cronjob", "database-backup", "-n", kube_namespace) is None
