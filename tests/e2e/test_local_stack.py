"""The real Pulumi engine on a throwaway copy of the local stack: preview, up, no-op up, destroy."""

import pytest
from pulumi import automation as auto

from tests.e2e.harness import stack_copy
from tests.kube import get_object

pytestmark = pytest.mark.e2e


def test_local_stack_lifecycle(local_stack):
    cluster, namespace = local_stack.cluster, local_stack.namespace
    preview = local_stack.stack.preview(on_output=lambda _line: None)
    assert preview.change_summary.get("create", 0) >= 3  # stack, platform component, provider, namespace

    up = local_stack.stack.up(on_output=lambda _line: None)
    assert up.summary.result == "succeeded"
    outputs = local_stack.outputs()
    assert outputs["network"] == "localnet"
    assert outputs["shard_count"] == 16
    assert outputs["namespace"] == namespace
    assert len(outputs["keeper_addresses"]) == 2
    assert outputs.get("manifests_dir") is None  # applied to the cluster, nothing rendered
    assert outputs["database_schema_version"] == 4
    assert outputs["database_migrations"][0] == "001_initial_schema.sql"
    assert outputs["database_backup_id"]  # the local stack takes a verified backup before migrating

    # The namespace exists in the real API server, Active, with the stack's labels.
    live = get_object(cluster, "namespace", namespace)
    assert live["status"]["phase"] == "Active"
    assert live["metadata"]["labels"]["tonsurance.io/network"] == "localnet"
    assert live["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tonsurance"

    # A second up with nothing changed must be a no-op; the engine fails the run otherwise.
    again = local_stack.stack.up(expect_no_changes=True, on_output=lambda _line: None)
    assert again.summary.resource_changes.get("same", 0) >= 3

    # A full refresh reads every resource back (cluster, chain, database) and finds no drift; up agrees.
    refresh = local_stack.stack.refresh(on_output=lambda _line: None)
    assert refresh.summary.result == "succeeded"
    assert set(refresh.summary.resource_changes) == {"same"}, refresh.summary.resource_changes
    local_stack.stack.up(expect_no_changes=True, on_output=lambda _line: None)

    destroy = local_stack.stack.destroy(on_output=lambda _line: None)
    assert destroy.summary.result == "succeeded"
    assert get_object(cluster, "namespace", namespace) is None  # deleted and finalized, not left Terminating


def test_config_error_stops_preview_before_any_resource(tmp_path):
    copy = stack_copy(tmp_path / "project", stack_name="mainnet")
    copy.set_config("tonsurance:shardCount", "17")
    with pytest.raises(auto.CommandError) as info:
        copy.stack.preview(on_output=lambda _line: None)
    message = str(info.value)
    assert "config tonsurance:shardCount: must be 16 or 256, got 17" in message
    # Nothing was registered: the plan holds no resource at all, not even the platform component.
    assert "tonsurance:platform:Platform" not in message
    assert copy.stack.export_stack().deployment.get("resources") in (None, [])
