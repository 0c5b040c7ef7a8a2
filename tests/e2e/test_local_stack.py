"""The real Pulumi engine on a throwaway copy of the local stack: preview, up, no-op up, destroy."""

import pytest
from pulumi import automation as auto

from tests.e2e.harness import stack_copy

pytestmark = pytest.mark.e2e


def test_local_stack_lifecycle(local_stack):
    preview = local_stack.stack.preview(on_output=lambda _line: None)
    assert preview.change_summary.get("create", 0) >= 3  # stack, platform component, provider, namespace

    up = local_stack.stack.up(on_output=lambda _line: None)
    assert up.summary.result == "succeeded"
    outputs = local_stack.outputs()
    assert outputs["network"] == "localnet"
    assert outputs["shard_count"] == 16
    assert outputs["namespace"] == "tonsurance-local"
    assert len(outputs["keeper_addresses"]) == 2
    assert outputs["manifests_dir"] == str(local_stack.manifests_dir)
    assert outputs["database_schema_version"] == 4
    assert outputs["database_migrations"][0] == "001_initial_schema.sql"
    assert outputs["database_backup_id"]  # the local stack takes a verified backup before migrating

    namespaces = [o for o in local_stack.rendered_objects() if o["kind"] == "Namespace"]
    assert [n["metadata"]["name"] for n in namespaces] == ["tonsurance-local"]
    assert namespaces[0]["metadata"]["labels"]["tonsurance.io/network"] == "localnet"

    # A second up with nothing changed must be a no-op; the engine fails the run otherwise.
    again = local_stack.stack.up(expect_no_changes=True, on_output=lambda _line: None)
    assert again.summary.resource_changes.get("same", 0) >= 3

    destroy = local_stack.stack.destroy(on_output=lambda _line: None)
    assert destroy.summary.result == "succeeded"
    assert local_stack.rendered_objects() == []


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
