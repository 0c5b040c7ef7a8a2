import pytest

from tests.e2e.harness import TOOLS, StackCopy, stack_copy


@pytest.fixture(scope="session", autouse=True)
def _toolchain_present():
    if not (TOOLS / "bin" / "pulumi").exists():
        pytest.fail("the Pulumi toolchain is missing: run scripts/bootstrap (make test does)")


@pytest.fixture
def local_stack(tmp_path) -> StackCopy:
    """A throwaway copy of the `local` stack; destroyed at the end so no provider state is left behind."""
    copy = stack_copy(tmp_path / "project")
    yield copy
    copy.stack.destroy(on_output=lambda _line: None)
