"""Stores beside the state (state_store/): the same conditional-write contract on a folder and on S3 (moto's
server on 127.0.0.1), and the claim two runners share (state_store/lease.py)."""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from state_store.lease import Lease, LeaseBusy, LeaseLost, held
from state_store.location import beside_state, store_at
from state_store.store import StoreConflict, StoreUnavailable
from tests.moto_server import REGION, aws_env, moto_endpoint, new_bucket  # noqa: F401


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    if request.param == "folder":
        return store_at(f"file://{tmp_path / 'state' / '.tonsurance'}")
    return store_at(f"s3://{request.getfixturevalue('new_bucket')}/stacks/.tonsurance?region={REGION}")


def test_create_is_only_if_absent_and_replace_only_if_unchanged(store):
    assert store.read("journal/a.json") is None
    first = store.create("journal/a.json", b'{"n": 1}')
    with pytest.raises(StoreConflict):
        store.create("journal/a.json", b'{"n": 2}')                   # a second runner's create loses
    second = store.replace("journal/a.json", b'{"n": 2}', first)
    with pytest.raises(StoreConflict):
        store.replace("journal/a.json", b'{"n": 3}', first)           # written meanwhile: the stale writer loses
    stored = store.read("journal/a.json")
    assert stored.data == b'{"n": 2}' and stored.version == second
    with pytest.raises(StoreConflict):
        store.delete("journal/a.json", first)
    store.create("records/b.json", b"{}")
    assert store.names() == ["journal/a.json", "records/b.json"] and store.names("records/") == ["records/b.json"]
    store.delete("journal/a.json", second)
    assert store.read("journal/a.json") is None
    store.delete("journal/a.json", second)                             # already gone: nothing to do


def test_a_folder_store_keeps_names_inside_it(tmp_path):
    with pytest.raises(ValueError, match="must stay inside the store"):
        store_at(f"file://{tmp_path}").read("../outside.json")


def test_an_s3_bucket_that_is_missing_or_unreachable_is_unavailable_with_the_place_named(aws_env, monkeypatch):
    missing = store_at(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/p?region={REGION}")
    with pytest.raises(StoreUnavailable, match=r"cannot read s3://no-such-bucket-\w+/p/j.json \(NoSuchBucket"):
        missing.read("j.json")
    with pytest.raises(StoreUnavailable, match="check that the bucket exists"):
        missing.create("j.json", b"{}")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")      # nothing listens there
    with pytest.raises(StoreUnavailable, match=r"cannot read s3://b/j.json \(EndpointConnectionError"):
        store_at(f"s3://b?region={REGION}").read("j.json")


@pytest.mark.parametrize("backend, expected", [
    ("file:///srv/pulumi", "file:///srv/pulumi/.tonsurance"),
    ("file:///srv/pulumi?metadata=skip", "file:///srv/pulumi/.tonsurance"),
    ("file://state", "file:///project/state/.tonsurance"),
    ("s3://tonsurance-pulumi-state", "s3://tonsurance-pulumi-state/.tonsurance"),
    ("s3://bucket/stacks/?region=eu-central-1&endpoint=http://127.0.0.1:9000",
     "s3://bucket/stacks/.tonsurance?region=eu-central-1&endpoint=http://127.0.0.1:9000"),
    ("https://api.pulumi.com", None), ("azblob://container", None), (None, None),
])
def test_the_place_beside_each_kind_of_backend(backend, expected):
    assert beside_state(backend, "/project") == expected


def test_s3_options_are_the_ones_pulumis_backend_reads():
    store = store_at("s3://b/p/.tonsurance?region=eu-west-1&endpoint=minio:9000&disable_https=true"
                     "&use_path_style=true&profile=ops")
    assert (store.bucket, store.prefix, store.region, store.endpoint_url, store.path_style, store.profile) == \
           ("b", "p/.tonsurance/", "eu-west-1", "http://minio:9000", True, "ops")
    with pytest.raises(ValueError, match="the `role` option is not supported here"):
        store_at("s3://b?role=arn:aws:iam::1:role/x")


def test_a_second_runner_waits_for_the_claim_and_takes_it_once_released(store):
    first = Lease(store, "journal/a.json.lease", purpose="test", poll_seconds=0.05)
    first.acquire()
    taken = threading.Event()

    def second_runner():
        second = Lease(store, "journal/a.json.lease", purpose="test", poll_seconds=0.05, wait_seconds=30)
        second.acquire()
        taken.set()
        second.release()

    thread = threading.Thread(target=second_runner)
    thread.start()
    assert not taken.wait(0.5)          # held: the second runner waits
    first.release()
    assert taken.wait(30)
    thread.join()
    assert store.read("journal/a.json.lease") is None


def test_a_busy_claim_names_its_holder_and_an_expired_one_is_taken_over(store):
    holder = Lease(store, "x.lease", purpose="deploying testnet", ttl_seconds=60)
    holder.acquire()
    with pytest.raises(LeaseBusy, match=rf"{holder.owner} holds .*x.lease \(deploying testnet\) until .* UTC"):
        Lease(store, "x.lease", purpose="p", wait_seconds=0.2, poll_seconds=0.05).acquire()
    stale = Lease(store, "y.lease", purpose="crashed runner", ttl_seconds=0.01)
    stale.acquire()                       # its runner dies without releasing
    time.sleep(0.05)
    successor = Lease(store, "y.lease", purpose="p", wait_seconds=5, poll_seconds=0.05)
    successor.acquire()
    assert json.loads(store.read("y.lease").data)["owner"] == successor.owner
    with pytest.raises(LeaseLost, match="another runner took it over"):
        stale.renew()                     # the crashed runner, back, cannot extend what is no longer its
    stale.release()                       # nor remove it
    assert json.loads(store.read("y.lease").data)["owner"] == successor.owner


def test_claims_are_reentrant_within_a_process(store):
    with held(store, "z.lease", "outer") as outer, held(store, "z.lease", "inner") as inner:
        assert inner is outer and store.read("z.lease") is not None
    assert store.read("z.lease") is None


def test_threads_of_one_process_take_the_claim_in_turn(store):
    """A provider runs resources in threads: a second thread waits for the first to leave, never shares its
    claim, and each leaves cleanly whichever leaves last (a shared claim once failed on exit with KeyError)."""
    order: list[str] = []

    def second():
        with held(store, "t.lease", "second"):
            order.append("second in")
    with held(store, "t.lease", "first") as first:
        thread = threading.Thread(target=second)
        thread.start()
        assert not thread.join(0.5) and thread.is_alive()   # waiting for the first thread's turn
        order.append("first out")
        claimed = json.loads(store.read("t.lease").data)["owner"]
        assert claimed == first.owner
    thread.join(10)
    assert order == ["first out", "second in"]
    assert store.read("t.lease") is None
