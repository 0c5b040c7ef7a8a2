import pulumi
import pytest


@pytest.fixture
def pulumi_mocks():
    """Install Pulumi mocks for one test and remove them afterwards, so later tests run with no engine
    (where pulumi.log prints to stderr, as it does in a provider called directly)."""
    yield lambda mocks: pulumi.runtime.set_mocks(mocks, preview=False)
    pulumi.runtime.settings.configure(pulumi.runtime.Settings(project=None, stack=None))
