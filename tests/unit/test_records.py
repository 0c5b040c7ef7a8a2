"""Deployment records (ops/records.py) and the rollback's choice of target (ops/rollback.py): content, names,
where they are stored (beside the state, the old folder read too), masking, format versions, the last good
release after a failed, successful, unrecorded or rolled-back update."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from state_store.area import folder_area
from ops import records
from ops.records import (
    RecordError, StoredRecord, build_record, find_record, read_record, record_stores, stack_records, write_record,
)
from ops.rollback import default_target, rollback_contracts

OUTPUTS = {
    "network": "localnet", "admin_address": "kQAdmin", "pricing_oracle_address": "kQOracle",
    "multi_tranche_vault_address": "kQVault", "sure_token_addresses": {"BTC": "kQBtc"},
    "policy_router_address": "kQRouter", "policy_shard_addresses": ["kQS0", "kQS1"], "shard_count": 2,
    "contract_code_hashes": {"PricingOracle": "ab" * 32}, "database_schema_version": 4,
    "database_migrations": ["001_initial_schema.sql"], "database_backup_id": "20261129-201500-abc",
    "dsn": "[secret]",
}
CONFIG = {"network": "localnet", "images": {"backend": "ghcr.io/tonsurance/backend:1.0.0"}}
WHEN = datetime(2026, 11, 29, 20, 15, 7, tzinfo=timezone.utc)


def update(number: int, result: str = "succeeded") -> dict:
    """The stack's update `number` as its history gives it (file and S3 backends number none: the start time
    identifies it)."""
    return {"version": None, "result": result, "started_at": f"2026-11-29T20:{number:02d}:00Z", "ended_at": None}


def test_record_content(tmp_path):
    record = build_record("local", OUTPUTS, CONFIG, work_dir=tmp_path, update=update(7), now=WHEN)
    assert (record["format"], record["version"], record["stack"]) == (records.FORMAT, 1, "local")
    assert record["created_at"] == "2026-11-29T20:15:07Z"
    assert record["update"]["started_at"] == "2026-11-29T20:07:00Z" and record["update"]["result"] == "succeeded"
    assert record["rollback_to"] is None
    assert record["contracts"] == {"pricing_oracle": "kQOracle", "multi_tranche_vault": "kQVault",
                                   "sure_token": {"BTC": "kQBtc"}, "policy_router": "kQRouter",
                                   "policy_shard": ["kQS0", "kQS1"], "shard_count": 2}
    assert record["images"] == CONFIG["images"]
    assert record["database"] == {"schema_version": 4, "migrations": ["001_initial_schema.sql"],
                                  "backup_id": "20261129-201500-abc"}
    assert record["git"] == {"commit": None, "branch": None, "dirty": None}  # tmp_path is no git checkout
    assert record["outputs"]["dsn"] == "[secret]"


def test_git_state_of_this_checkout():
    record = build_record("local", OUTPUTS, CONFIG, now=WHEN)
    assert len(record["git"]["commit"] or "") == 40 and isinstance(record["git"]["dirty"], bool)


def test_records_live_beside_the_state_and_the_old_folder_is_read_too(tmp_path):
    legacy = tmp_path / "checkout" / "deployments"
    stores = record_stores(f"file://{tmp_path / 'state'}?metadata=skip", legacy)
    assert [s.url for s in stores] == [str(tmp_path / "state" / ".tonsurance" / "records"), str(legacy)]
    old = write_record(build_record("local", OUTPUTS, CONFIG, now=WHEN), stores[1])        # written before the move
    first = write_record(build_record("local", OUTPUTS, CONFIG, now=WHEN.replace(minute=20)), stores[0])
    second = write_record(build_record("local", {**OUTPUTS, "shard_count": 3}, CONFIG, now=WHEN.replace(minute=30)),
                          stores[0])
    write_record(build_record("local-eu", OUTPUTS, CONFIG, now=WHEN), stores[0])   # another stack, same prefix
    assert first.name == "local-20261129-202007.json"
    assert first.location == str(tmp_path / "state" / ".tonsurance" / "records" / "local-20261129-202007.json")
    assert stack_records("local", stores) == [old, first, second]
    assert second.read()["contracts"]["shard_count"] == 3
    assert not [p for p in (tmp_path / "state").rglob("*") if p.name.startswith(".local")]  # no temporary left

    assert find_record("local", "local-20261129-202007", stores) == first
    assert find_record("local", "local-20261129-201507.json", stores) == old
    assert find_record("local", str(legacy / old.name), [stores[0]]) == legacy / old.name   # a file path
    with pytest.raises(RecordError, match="no deployment record local-20200101-000000 of stack local"):
        find_record("local", "local-20200101-000000", stores)


def test_backends_without_a_place_beside_the_state_keep_records_in_the_checkout(tmp_path):
    assert [s.url for s in record_stores("https://api.pulumi.com", tmp_path)] == [str(tmp_path)]
    assert [s.url for s in record_stores("", tmp_path)] == [str(tmp_path)]
    s3 = record_stores("s3://tonsurance-state/pulumi?region=eu-central-1", tmp_path)
    assert [s.url for s in s3] == ["s3://tonsurance-state/pulumi/.tonsurance/records/", str(tmp_path)]
    assert s3[0].store.region == "eu-central-1"


def test_unknown_version_and_garbage_refused(tmp_path):
    stored = write_record(build_record("local", OUTPUTS, CONFIG, now=WHEN), folder_area(tmp_path))
    path = tmp_path / stored.name
    path.write_text(json.dumps({**json.loads(path.read_text()), "version": 2}))
    with pytest.raises(RecordError, match="format version 2"):
        read_record(path)
    with pytest.raises(RecordError, match="format version 2"):
        stored.read()
    path.write_text("{")
    with pytest.raises(RecordError, match="unreadable"):
        read_record(path)
    with pytest.raises(RecordError, match="does not exist"):
        read_record(tmp_path / "absent.json")
    with pytest.raises(RecordError, match="does not exist"):
        StoredRecord("local-20200101-000000.json", folder_area(tmp_path)).read()
    (tmp_path / "other.json").write_text('{"format": "something"}')
    with pytest.raises(RecordError, match="not a Tonsurance deployment record"):
        read_record(tmp_path / "other.json")


def test_contracts_rollback_compares_the_record_and_names_its_commit():
    record = build_record("local", OUTPUTS, CONFIG, now=WHEN)
    lines: list[str] = []
    assert rollback_contracts(OUTPUTS, "local-a", record, lines.append)
    moved = {**OUTPUTS, "policy_router_address": "kQOtherRouter"}
    assert not rollback_contracts(moved, "local-a", {**record, "git": {"commit": "abc123"}}, lines.append,
                                  chain_state=lambda _record: ["25 of 25 contracts are active"])
    assert "policy_router differ from local-a" in lines[-3]
    assert lines[-2] == "  25 of 25 contracts are active"
    assert "check out commit abc123" in lines[-1]


# ---- the default target ----------------------------------------------------------------------------------

def history(tmp_path, *entries: tuple[dict | None, str | None]) -> list[tuple[StoredRecord, dict]]:
    """Records (update, rollback_to) one minute apart, stored, read back as the rollback reads them."""
    store = folder_area(tmp_path)
    for i, (upd, rollback_to) in enumerate(entries):
        write_record(build_record("local", OUTPUTS, CONFIG, update=upd, rollback_to=rollback_to,
                                  now=WHEN + timedelta(minutes=i)), store)
    return [(stored, stored.read()) for stored in stack_records("local", [store])]


def names(found: list[tuple[StoredRecord, dict]]) -> list[str]:
    return [stored.name for stored, _ in found]


def test_after_a_successful_update_the_target_is_the_good_release_before_it(tmp_path):
    found = history(tmp_path, (update(1), None), (update(2), None), (update(3), None))
    assert default_target(found, update(3)) == found[1][0]


def test_after_a_failed_update_the_target_is_the_last_good_release(tmp_path):
    found = history(tmp_path, (update(1), None), (update(2), None))
    # The workflow records only after a successful up: the failure is in the stack's history alone.
    assert default_target(found, update(3, "failed")) == found[1][0]
    # `make up` records failures too.
    recorded = history(tmp_path / "b", (update(1), None), (update(2), None), (update(3, "failed"), None))
    assert default_target(recorded, update(3, "failed")) == recorded[1][0]


def test_an_update_nobody_recorded_makes_the_newest_record_the_target(tmp_path):
    found = history(tmp_path, (update(1), None), (update(2), None))
    assert default_target(found, update(5)) == found[1][0]


def test_after_a_rollback_the_target_stays_where_it_went(tmp_path):
    first = history(tmp_path, (update(1), None), (update(2), None))
    back = history(tmp_path, (update(1), None), (update(2), None), (update(3), first[0][0].name))
    assert default_target(back, update(3)) == first[0][0]  # the same rollback again changes nothing
    # A new release after the rollback goes back to the rolled-back state (records of version 1 without
    # `update` count as successful).
    later = history(tmp_path, (update(1), None), (update(2), None), (update(3), first[0][0].name), (None, None))
    assert default_target(later, None) == later[2][0]


def test_no_good_release_to_go_back_to(tmp_path):
    with pytest.raises(RecordError, match="no good release before the current one"):
        default_target(history(tmp_path, (update(1), None)), update(1))
    with pytest.raises(RecordError, match="no record of a successful update"):
        default_target(history(tmp_path / "b", (update(1, "failed"), None)), update(1, "failed"))
