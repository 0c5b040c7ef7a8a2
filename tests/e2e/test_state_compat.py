"""A stack written by the code before the restructure (issue 23) keeps working with this tree.

The engine stores each dynamic resource's provider pickled by module path (`dynamic_providers.ton_contract`,
...), and `refresh` and `destroy` unpickle the one in the stored outputs: they are rewritten only when a
resource is created or updated. So: a local stack is deployed by the tree at PRE_MOVE, the sources are replaced
by this tree's (as `git pull` would), and then preview diffs every resource through the old pickles, refresh
reads every resource, and destroy removes the stack; without the import shims of dynamic_providers/ the same
refresh fails. Since PRE_MOVE the contracts' code changed (Contracts v3), so preview plans new contracts on this
localnet stack: the database resources stay the same, and the TON resources diff without an error.
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess

import pytest
from pulumi import automation as auto

from resource_types import DATABASE_BACKUP, SQL_MIGRATIONS, TON_RESOURCES
from tests.e2e.harness import TOOLS, StackCopy, engine_env, replace_sources, stack_copy

pytestmark = pytest.mark.e2e

PRE_MOVE = "f8772ba"   # the last commit with the providers in dynamic_providers/ (before ton_deploy/ existed)
PICKLED = (*TON_RESOURCES, DATABASE_BACKUP, SQL_MIGRATIONS)
OLD_MODULES = {"dynamic_providers.ton_deployment", "dynamic_providers.ton_contract", "dynamic_providers.shard_batch",
               "dynamic_providers.database_backup", "dynamic_providers.sql_migrations"}


def pickled_modules(stack: StackCopy) -> set[str]:
    """The modules of the providers pickled in the stored outputs of the stack's dynamic resources (the engine
    keeps them secret where the resource has secret inputs, hence --show-secrets)."""
    exported = subprocess.run([str(TOOLS / "bin" / "pulumi"), "stack", "export", "--show-secrets", "--stack",
                               stack.stack.name], cwd=stack.work_dir, env={**os.environ, **engine_env(stack.work_dir)},
                              capture_output=True, text=True, check=True).stdout
    found = set()
    for resource in json.loads(exported)["deployment"]["resources"]:
        pickled = (resource.get("outputs") or {}).get("__provider")
        if isinstance(pickled, dict):   # a secret: {"<sig>": ..., "plaintext": "\"<base64>\""}
            pickled = json.loads(pickled.get("plaintext", "null"))
        if pickled:
            found |= {m.decode() for m in re.findall(rb"(dynamic_providers\.\w+|ton_deploy\.\w+|database\.\w+_resource)",
                                                      base64.b64decode(pickled))}
    return found


@pytest.fixture
def old_stack(project_dir, kube_cluster):
    """The `local` stack deployed by the tree at PRE_MOVE, destroyed at the end by this tree's code."""
    copy = stack_copy(project_dir, commit=PRE_MOVE)
    copy.use_cluster(kube_cluster)
    copy.start_postgres()
    yield copy
    try:
        copy.stack.destroy(on_output=lambda _line: None)
    except auto.CommandError:  # the Kubernetes provider's delete await of a Rollout may crash once
        copy.stack.destroy(on_output=lambda _line: None)
    copy.stop_postgres()


def steps(action) -> dict[str, set[str]]:
    """Resource type -> the step ops the engine reported for resources of that type."""
    ops: dict[str, set[str]] = {}

    def record(event) -> None:
        if event.resource_pre_event:
            meta = event.resource_pre_event.metadata
            ops.setdefault(meta.type, set()).add(meta.op.value)

    action(on_event=record, on_output=lambda _line: None)
    return ops


def test_a_stack_written_before_the_move_previews_refreshes_and_destroys(old_stack):
    stack = old_stack
    stack.stack.up(on_output=lambda _line: None)
    assert pickled_modules(stack) == OLD_MODULES
    replace_sources(stack.work_dir, keep=("Pulumi.local.yaml",))   # the stack file holds its config and salt
    assert not (stack.work_dir / "dynamic_providers" / "ton_deploy.py").exists()
    assert (stack.work_dir / "ton_deploy" / "plan.py").exists()

    preview = steps(stack.stack.preview)
    assert set(PICKLED) <= set(preview)
    assert preview[DATABASE_BACKUP] == preview[SQL_MIGRATIONS] == {"same"}, preview
    # Contracts v3 is new code: the old contracts are replaced (a localnet stack allows it), nothing fails.
    assert {op for t in TON_RESOURCES for op in preview[t]} <= {"same", "update", "replace", "create-replacement",
                                                                "delete-replaced"}, preview

    # Refresh reads each resource through the provider pickled in its stored outputs: the old module paths.
    shims = stack.work_dir / "dynamic_providers"
    hidden = stack.work_dir.parent / "dynamic_providers.hidden"
    shims.rename(hidden)
    with pytest.raises(auto.CommandError, match="dynamic_providers"):
        stack.stack.refresh(on_output=lambda _line: None)
    hidden.rename(shims)
    refreshed = steps(stack.stack.refresh)
    assert set(PICKLED) <= set(refreshed)
    assert "delete" not in {op for ops in refreshed.values() for op in ops}
    assert pickled_modules(stack) == OLD_MODULES  # refresh keeps them: destroy (the fixture) runs through the shims
