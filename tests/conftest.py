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
