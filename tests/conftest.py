import pulumi
import pytest


@pytest.fixture
def pulumi_mocks():
    """Install Pulumi mocks for one test and remove them afterwards, so later tests run with no engine
    (where pulumi.log prints to stderr, as it does in a provider called directly)."""
    yield lambda mocks: pulumi.runtime.set_mocks(mocks, preview=False)
    pulumi.runtime.settings.configure(pulumi.runtime.Settings(project=None, stack=None))
    # A program run under the mocks (__main__.py) registers stack transformations (the pinned field manager) on
    # the root resource: later tests get a new root instead of inheriting them.
    pulumi.runtime.settings.ROOT.set(None)


@pytest.fixture
def mocks(pulumi_mocks):
    """tests/support.py's RecordingMocks installed for one test, TON resources answered like their providers."""
    from tests.support import RecordingMocks, ton_answer

    mocks = RecordingMocks(ton_answer)
    pulumi_mocks(mocks)
    return mocks


@pytest.fixture(scope="session")
def kube_cluster():
    """The session's real Kubernetes control plane (nodes and pods simulated by KWOK), deleted at the end.
    See tests/kube.py; started on first use, so sessions that never ask for it pay nothing."""
    from localcluster.cluster import ClusterError
    from tests.kube import session_cluster

    try:
        cluster = session_cluster()
    except ClusterError as err:
        pytest.fail(f"the test cluster did not start: {err}", pytrace=False)
    yield cluster
    cluster.delete()


@pytest.fixture
def kube_namespace(kube_cluster):
    """A fresh namespace in the session cluster for one test; deleted afterwards (without waiting)."""
    from tests.kube import new_namespace

    name = new_namespace(kube_cluster)
    yield name
    kube_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


# The slowest test files (seconds on 2 cores, serial run of 2026-12-07; docs/toolchain.md, "Test suite time"), started first
# so that `make test`'s workers (pytest-xdist, one file per worker at a time) finish together. Scheduling only: a
# file missing here, renamed or grown costs balance, never a result.
SLOW_FILES = (
    "tests/e2e/test_drills.py",  # 588
    "tests/e2e/test_rollback_e2e.py",  # 172
    "tests/e2e/test_contracts_e2e.py",  # 159
    "tests/e2e/test_roles_e2e.py",  # 158
    "tests/bench/test_smoke.py",  # 140
    "tests/e2e/test_converge.py",  # 115
    "tests/e2e/test_services_e2e.py",  # 110
    "tests/e2e/test_local_stack.py",  # 66
    "tests/e2e/test_make_up.py",  # 65
    "tests/e2e/test_mnemonic_reference_e2e.py",  # 59
    "tests/e2e/test_ops_e2e.py",  # 50
)


def pytest_collection_modifyitems(items):
    rank = {path: index for index, path in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(SLOW_FILES)))  # stable: file order kept
