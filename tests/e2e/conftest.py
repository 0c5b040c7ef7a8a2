import shutil
import tempfile
from pathlib import Path

import pytest
from pulumi import automation as auto

from tests.e2e.harness import TOOLS, StackCopy, stack_copy


@pytest.fixture(scope="session", autouse=True)
def _toolchain_present():
    if not (TOOLS / "bin" / "pulumi").exists():
        pytest.fail("the Pulumi toolchain is missing: run scripts/bootstrap (make test does)")


@pytest.fixture
def project_dir():
    """A folder for a project copy that the `postgres` user can traverse (pytest's tmp_path is private)."""
    base = Path(tempfile.mkdtemp(prefix="tonsurance-e2e-"))
    base.chmod(0o755)
    yield base / "project"
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def local_stack(project_dir, kube_cluster) -> StackCopy:
    """A throwaway copy of the `local` stack deploying into the session's cluster under its own namespace;
    destroyed at the end so no provider state or Kubernetes object is left behind."""
    copy = stack_copy(project_dir)
    copy.use_cluster(kube_cluster)
    copy.start_postgres()
    yield copy
    try:
        copy.stack.destroy(on_output=lambda _line: None)
    except auto.CommandError:
        # The Kubernetes provider (v4.25) can crash in its delete await of a Rollout with waitFor that
        # vanishes quickly; a second destroy deletes what is left.
        copy.stack.destroy(on_output=lambda _line: None)
    copy.stop_postgres()
