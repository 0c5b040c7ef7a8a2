"""`python -m ops rollback` end to end on the local stack (cluster, PostgreSQL, localnet), with the stack's
state in S3 (moto's server on 127.0.0.1, as a public stack keeps it) and the rollbacks run from a second
checkout that never ran an update: records are found beside the state, not in anyone's checkout.

1. Release 1 (images 1.0.0) and release 2 (images 1.1.0, a new oracle code: new contracts, migration 005),
   each recorded by `ops record` in S3. Release 3 fails: its images 1.2.0 roll out, its migration 006 fails;
   its record says so.
2. `rollback --type services` with no target goes to release 2, the last good one. The preview it prints is
   targeted at the services; afterwards the live Rollouts and Deployments run 1.1.0, the TON and database
   resources and the chain are as they were, Pulumi.local.yaml holds 1.1.0 (the command says to commit it),
   and a rollback record names release 2. The same rollback again changes nothing. With 006 fixed and that
   config, the next plain `pulumi up` keeps 1.1.0.
3. `rollback --type contracts --to <release 1>` lists what going back needs (every contract active: no
   message; no admin message) and the commit; doing it (release 1's oracle code, `pulumi up`) sends no
   message and points the ConfigMap at release 1's contracts.
4. `rollback --type database --to <release 1> --yes` restores the backup taken before migration 005.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import boto3
import psycopg
import pytest
import yaml
from pulumi import automation as auto

from resource_types import DATABASE_BACKUP, SQL_MIGRATIONS, TON_RESOURCES
from tests.e2e.convergence import applied_migrations, duplicate_sends
from tests.e2e.harness import StackCopy, stack_copy
from tests.kube import get_object
from tests.moto_server import REGION, aws_env, moto_endpoint  # noqa: F401

pytestmark = pytest.mark.e2e

BUCKET = f"tonsurance-state-{uuid.uuid4().hex[:8]}"  # the session's moto server is shared with other test files
WORKLOADS = {"rollout": ("ocaml-backend", "api-v2", "websocket-v2"),
             "deployment": ("pricing-keeper", "bridge-health-keeper")}
UNTOUCHED_TYPES = (*TON_RESOURCES, DATABASE_BACKUP, SQL_MIGRATIONS)
NEW_ORACLE_GETTER = "\nint get_code_version() method_id {\n    return 2;\n}\n"


def quiet(_line: str) -> None:
    pass


@pytest.fixture
def s3_stack(project_dir, kube_cluster, aws_env):  # noqa: F811
    """The local stack in a project copy, its state in S3; destroyed at the end."""
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    copy = stack_copy(project_dir, backend_url=f"s3://{BUCKET}/pulumi?region={REGION}")
    copy.use_cluster(kube_cluster)
    copy.start_postgres()
    yield copy
    try:
        copy.stack.destroy(on_output=quiet)
    except auto.CommandError:  # the provider's Rollout delete await can crash once (tests/e2e/conftest.py)
        copy.stack.destroy(on_output=quiet)
    copy.stop_postgres()


def ops(work_dir, copy: StackCopy, *args: str) -> subprocess.CompletedProcess:
    """`python -m ops ARGS --stack local` from the checkout in `work_dir`, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "ops", *args, "--stack", copy.stack.name], cwd=work_dir,
                          env={**os.environ, **copy.env()}, capture_output=True, text=True, timeout=1200)


def record(copy: StackCopy) -> dict:
    """`ops record` after an up, from the copy that ran it; the record, read back from S3."""
    done = ops(copy.work_dir, copy, "record")
    assert done.returncode == 0, done.stderr
    location = done.stdout.splitlines()[0].removeprefix("deployment record: ")
    assert location.startswith(f"s3://{BUCKET}/pulumi/.tonsurance/records/local-")
    key = location.removeprefix(f"s3://{BUCKET}/")
    return {**json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()),
            "name": key.rsplit("/", 1)[1].removesuffix(".json")}


def set_images(copy: StackCopy, version: str) -> None:
    images = json.loads(copy.stack.get_config("tonsurance:images").value)
    for key, image in images.items():
        copy.set_config(f"tonsurance:images.{key}", f"{image.rsplit(':', 1)[0]}:{version}", path=True)


def live_images(copy: StackCopy) -> set[str]:
    return {get_object(copy.cluster, kind, name, "-n", copy.namespace)["spec"]["template"]["spec"]["containers"][0]
            ["image"].rsplit(":", 1)[1] for kind, names in WORKLOADS.items() for name in names}


def untouched(copy: StackCopy) -> list[tuple]:
    """Inputs and outputs of the TON and database resources, as the state holds them."""
    return sorted((r["urn"], json.dumps(r.get("inputs"), sort_keys=True), json.dumps(r.get("outputs"), sort_keys=True))
                  for r in copy.stack.export_stack().deployment["resources"] if r["type"] in UNTOUCHED_TYPES)


def build_contracts(work_dir) -> None:
    subprocess.run(["node", "scripts/build_contracts.mjs"], cwd=work_dir, check=True, capture_output=True)


def test_rollback_paths_on_the_local_stack_from_another_checkout(s3_stack, tmp_path):
    copy = s3_stack
    oracle_source = copy.work_dir / "contracts" / "func" / "pricing_oracle.fc"
    release_1_oracle = oracle_source.read_text()

    copy.stack.up(on_output=quiet)
    release_1 = record(copy)
    assert release_1["update"]["result"] == "succeeded" and release_1["images"]["apiV2"].endswith(":1.0.0")

    set_images(copy, "1.1.0")
    oracle_source.write_text(release_1_oracle + NEW_ORACLE_GETTER)
    build_contracts(copy.work_dir)
    (copy.work_dir / "migrations" / "005_rollback_probe.sql").write_text("CREATE TABLE rollback_probe (id int);\n")
    copy.stack.up(on_output=quiet)
    time.sleep(1)  # records are named by the second
    release_2 = record(copy)
    assert release_2["contracts"]["pricing_oracle"] != release_1["contracts"]["pricing_oracle"]

    # Release 3: the backup before its migration waits on a table lock until every workload runs 1.2.0; then the
    # migration fails, and so does the up.
    set_images(copy, "1.2.0")
    broken = copy.work_dir / "migrations" / "006_broken.sql"
    broken.write_text("SELECT no_such_function();\n")
    with psycopg.connect(copy.database_dsn()) as holder:
        holder.execute("LOCK TABLE rollback_probe IN ACCESS EXCLUSIVE MODE")
        run = copy.start_up(tmp_path / "release-3.log")
        deadline = time.monotonic() + 900
        while live_images(copy) != {"1.2.0"}:
            assert run.poll() is None and time.monotonic() < deadline, (tmp_path / "release-3.log").read_text()[-3000:]
            time.sleep(1)
    assert run.wait(timeout=900) != 0 and "no_such_function" in (tmp_path / "release-3.log").read_text()
    time.sleep(1)
    release_3 = record(copy)
    assert release_3["update"]["result"] == "failed" and applied_migrations(copy) == [1, 2, 3, 4, 5]

    # Another checkout of the same sources (a git checkout: the rollback says what to commit), no record of its
    # own; the local stack's servers (its `.state`) are this machine's, as a public stack's are everybody's.
    # Beside the copy (project_dir's short folder, not tmp_path): the other checkout's PostgreSQL socket lives
    # under it, and a Unix socket path is at most 107 bytes.
    other = copy.work_dir.parent / "other"
    shutil.copytree(copy.work_dir, other, symlinks=True, ignore=shutil.ignore_patterns(".state", "__pycache__"))
    (other / ".state").symlink_to(copy.work_dir / ".state")
    for git in (["init", "-q"], ["add", "Pulumi.local.yaml"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit",
                                                               "-qm", "stack config"]):
        subprocess.run(["git", "-C", str(other), *git], check=True, capture_output=True)
    before, messages = untouched(copy), copy.external_messages()

    back = ops(other, copy, "rollback", "--type", "services", "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    assert f"rollback of local to {release_2['name']}.json" in back.stdout
    preview = back.stdout.split("services: the preview", 1)[1].split("services: deployment record", 1)[0]
    changed = [line.split()[1] for line in preview.splitlines()[1:] if line.startswith("  ")]
    # Workload objects, and the providers that are handed the new config (the dynamic one gets all of it).
    assert {kind for kind in changed if not kind.startswith("pulumi:providers:")} == {
        "kubernetes:apps/v1:Deployment", "kubernetes:argoproj.io/v1alpha1:Rollout"}, preview
    assert "commit Pulumi.local.yaml" in back.stdout
    assert live_images(copy) == {"1.1.0"}
    assert untouched(copy) == before and copy.external_messages() == messages
    assert applied_migrations(copy) == [1, 2, 3, 4, 5]
    other_config = yaml.safe_load((other / "Pulumi.local.yaml").read_text())["config"]
    assert {image.rsplit(":", 1)[1] for image in other_config["tonsurance:images"].values()} == {"1.1.0"}
    records = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="pulumi/.tonsurance/records/")
               ["Contents"]]
    assert len(records) == 4 and not (other / "deployments").exists()
    rollback_record = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=sorted(records)[-1])["Body"].read())
    assert rollback_record["rollback_to"] == f"{release_2['name']}.json"
    assert rollback_record["update"]["result"] == "succeeded"

    again = ops(other, copy, "rollback", "--type", "services", "--yes")
    assert again.returncode == 0 and "nothing to change" in again.stdout, again.stdout + again.stderr
    assert live_images(copy) == {"1.1.0"}

    # The operator commits the config; with 006 fixed, the next ordinary up keeps the rolled-back images.
    shutil.copy(other / "Pulumi.local.yaml", copy.work_dir / "Pulumi.local.yaml")
    broken.write_text("CREATE TABLE fixed_probe (id int);\n")
    changed_services: list[str] = []

    def services_steps(event) -> None:
        pre = event.resource_pre_event
        if pre and pre.metadata.op.value != "same" and "BackendServices" in pre.metadata.urn:
            changed_services.append(pre.metadata.urn)

    copy.stack.up(on_event=services_steps, on_output=quiet)
    assert changed_services == [] and live_images(copy) == {"1.1.0"}
    assert applied_migrations(copy) == [1, 2, 3, 4, 5, 6]

    # Contracts: what going back to release 1 needs, then doing it.
    contracts = ops(other, copy, "rollback", "--type", "contracts", "--to", release_1["name"])
    assert contracts.returncode == 1, contracts.stdout + contracts.stderr
    assert f"differ from {release_1['name']}.json" in contracts.stdout
    assert "25 of 25 contracts are active on chain: adopted, no deploy message" in contracts.stdout
    assert "no admin message is needed" in contracts.stdout
    assert f"check out commit {release_1['git']['commit'] or 'unknown'}" in contracts.stdout
    oracle_source.write_text(release_1_oracle)
    build_contracts(copy.work_dir)
    messages = copy.external_messages()
    copy.stack.up(on_output=quiet)
    assert copy.external_messages() == messages  # every contract adopted
    assert copy.outputs()["pricing_oracle_address"] == release_1["contracts"]["pricing_oracle"]
    config_map = get_object(copy.cluster, "configmap", "contract-addresses", "-n", copy.namespace)
    assert config_map["data"]["PRICING_ORACLE_ADDRESS"] == release_1["contracts"]["pricing_oracle"]
    assert duplicate_sends(copy) == []  # release 1's contracts: one transaction each, their deploy

    # Database: back to release 1's schema, from the backup taken right before migration 005.
    with psycopg.connect(copy.database_dsn(), autocommit=True) as conn:
        conn.execute("INSERT INTO rollback_probe VALUES (1)")
    database = ops(other, copy, "rollback", "--type", "database", "--to", release_1["name"], "--yes")
    assert database.returncode == 0, database.stdout + database.stderr
    assert f"Backup {release_2['database']['backup_id']}" in database.stdout  # taken by release 2, before 005
    assert applied_migrations(copy) == [1, 2, 3, 4]
    # database.restore restores into a scratch database, checks it, then swaps it in whole: the newer tables
    # stay only in the previous database, which it keeps and names.
    assert "The previous database is kept as tonsurance_before_" in database.stdout
    with psycopg.connect(copy.database_dsn()) as conn:
        assert conn.execute("SELECT to_regclass('rollback_probe'), to_regclass('fixed_probe')").fetchone() == \
            (None, None)
