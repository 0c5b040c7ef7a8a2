"""The backup CronJob of testnet and mainnet: its manifests, and its wiring under Pulumi's mocks."""
from __future__ import annotations

import pulumi
import pytest

from components import backup_schedule
from components.backup_schedule import CODE_FILES, BackupSchedule, BackupScheduleArgs, backup_manifests
from tests.support import parse, raw_config

ROLE = "arn:aws:iam::123456789012:role/tonsurance-mainnet-backup"
KEY = "arn:aws:kms:eu-central-1:123456789012:key/0f0f0f0f-aaaa-bbbb-cccc-0123456789ab"


def args(network: str) -> BackupScheduleArgs:
    return BackupScheduleArgs.from_stack_config(parse(raw_config(network), stack=network), ROLE, KEY)


@pytest.mark.parametrize("network, schedule", [("mainnet", "0 */6 * * *"), ("testnet", "30 2 * * *")])
def test_schedule_and_no_overlap(network, schedule):
    cron = backup_manifests(args(network), ROLE, KEY)["CronJob"]["spec"]
    assert cron["schedule"] == schedule and cron["timeZone"] == "Etc/UTC"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["jobTemplate"]["spec"]["backoffLimit"] == 1


def test_the_job_runs_the_database_package_with_the_backup_role_and_the_database_url_secret():
    manifests = backup_manifests(args("mainnet"), ROLE, KEY)
    pod = manifests["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["python", "-m", "database.backup_job", "--store",
                                    "s3://tonsurance-backups-mainnet/mainnet/", "--s3-region", "eu-central-1",
                                    "--signing-key", f"kms:{KEY}", "--expected-bucket-owner", "123456789012"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"] == {"secretKeyRef": {"name": "database-url", "key": "value"}}
    assert env["PYTHONPATH"]["value"] == "/opt/tonsurance"
    assert not any("value" in e and "postgres" in e["value"] for e in container["env"])  # no DSN in the manifest
    assert pod["serviceAccountName"] == manifests["ServiceAccount"]["metadata"]["name"] == "tonsurance-backup"
    assert manifests["ServiceAccount"]["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE}
    code = manifests["ConfigMap"]["data"]
    assert set(code) == set(CODE_FILES) and "def create_backup(" in code["backup.py"]
    mount = {m["name"]: m for m in container["volumeMounts"]}["code"]
    assert mount == {"name": "code", "mountPath": "/opt/tonsurance/database", "readOnly": True}
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    assert manifests["NetworkPolicy"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in manifests["NetworkPolicy"]["spec"]


def test_the_backup_pod_has_no_api_token_and_reaches_only_dns_the_database_and_public_https():
    """Finding 8 of issue 27: no Kubernetes API token in the pod; egress to the database's port on private
    addresses and HTTPS on public ones only (S3, STS, KMS), never the metadata endpoint or another private port."""
    manifests = backup_manifests(args("mainnet"), ROLE, KEY)
    pod = manifests["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert manifests["ServiceAccount"]["automountServiceAccountToken"] is False
    dns, database, https = manifests["NetworkPolicy"]["spec"]["egress"]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert database["ports"] == [{"protocol": "TCP", "port": 5432}]
    assert {peer["ipBlock"]["cidr"] for peer in database["to"]} == {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
    assert https["ports"] == [{"protocol": "TCP", "port": 443}]
    [public] = https["to"]
    assert public["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert {"169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(public["ipBlock"]["except"])
    assert all("to" in rule for rule in (dns, database, https))  # no rule opens a port to every address


def test_a_code_change_changes_the_pod_template(tmp_path, monkeypatch):
    def checksum() -> str:
        template = backup_manifests(args("testnet"), ROLE, KEY)["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]
        return template["metadata"]["annotations"]["tonsurance.io/code-checksum"]

    before = checksum()
    for name in CODE_FILES:
        (tmp_path / name).write_text((backup_schedule._DATABASE_DIR / name).read_text())
    (tmp_path / "storage.py").write_text((tmp_path / "storage.py").read_text() + "\n# changed\n")
    monkeypatch.setattr(backup_schedule, "_DATABASE_DIR", tmp_path)
    assert checksum() != before


def test_component_registers_the_manifests_with_the_stack_provider(mocks):
    @pulumi.runtime.test
    def program():
        import pulumi_kubernetes as k8s
        provider = k8s.Provider("cluster")
        BackupSchedule("backups", args("mainnet"), pulumi.ResourceOptions(provider=provider))

    program()
    expected = backup_manifests(args("mainnet"), ROLE, KEY)
    cron = mocks.resources["backups-cronjob"]
    assert cron.typ == "kubernetes:batch/v1:CronJob"
    assert all(r.provider.endswith("pulumi:providers:kubernetes::cluster::cluster-id")
               for name, r in mocks.resources.items() if name.startswith("backups-"))
    assert cron.inputs["spec"]["schedule"] == "0 */6 * * *"
    assert cron.inputs["spec"]["jobTemplate"]["spec"]["template"] == expected["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]
    account = mocks.resources["backups-account"]
    assert account.inputs["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE}
    assert mocks.resources["backups-code"].inputs["data"] == expected["ConfigMap"]["data"]
    assert mocks.resources["backups-egress"].typ == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
