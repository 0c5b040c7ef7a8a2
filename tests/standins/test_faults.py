"""The fault table: a release's image tag picks its stand-ins' behaviour; a drill's override wins."""

import pytest

from tests.support import parse, raw_config
from localcluster.standins.faults import FAULTS, HEALTHY, behaviour_for, fault_of_tag, image_tag


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_tag_ending_in_a_fault_name_behaves_as_that_row(fault):
    assert behaviour_for(f"ghcr.io/tonsurance/api-v2:1.0.1-{fault}") == FAULTS[fault]
    assert FAULTS[fault] != HEALTHY  # every row changes something


@pytest.mark.parametrize("image", ["ghcr.io/tonsurance/api-v2:1.0.1", "ghcr.io/tonsurance/api-v2:1.0.1-rc1",
                                   "registry:5000/tonsurance/api-v2:2.0.0", "ghcr.io/tonsurance/api-v2@sha256:" + "a" * 64])
def test_other_tags_are_healthy(image):
    assert behaviour_for(image) == HEALTHY


def test_the_longest_matching_name_wins_and_the_registry_port_is_not_a_tag():
    assert fault_of_tag("1.0.1-keeper-failing") == "keeper-failing"
    assert image_tag("registry:5000/tonsurance/api-v2") == ""
    assert image_tag("registry:5000/tonsurance/api-v2:1.2.3-slow@sha256:" + "b" * 64) == "1.2.3-slow"


def test_drill_faults_combine_with_the_tags():
    combined = behaviour_for("ghcr.io/tonsurance/api-v2:1.0.1-slow", ("bad-errors", "db-pool-exhausted"))
    assert (combined.slow_every, combined.error_every, combined.db_pool_exhausted) == (20, 20, True)
    assert combined.requests_per_second == HEALTHY.requests_per_second
    assert behaviour_for("ghcr.io/tonsurance/api-v2:1.0.1", ("stopped",)).serving is False


def test_the_bad_releases_of_the_drill_cross_the_guides_gates():
    errors, slow = FAULTS["bad-errors"], FAULTS["slow"]
    assert 1 / errors.error_every > 0.01  # above the 1% error gate
    assert 1 / slow.slow_every > 0.01 and slow.slow_ms > 500  # more than 1% of requests above 500 ms: p99 too
    local = parse(raw_config()).services.rollout  # a quiet pod stays below the local minimum in every window
    assert FAULTS["quiet"].requests_per_second * local.analysis_window_seconds < local.min_requests
    assert HEALTHY.requests_per_second * local.analysis_window_seconds >= 2 * local.min_requests
