"""Deployment records (ops/records.py): content, names, the -latest copy, masking, format versions."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ops import records
from ops.records import RecordError, build_record, read_record, stack_records, write_record

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


def test_record_content(tmp_path):
    record = build_record("local", OUTPUTS, CONFIG, work_dir=tmp_path, now=WHEN)
    assert (record["format"], record["version"], record["stack"]) == (records.FORMAT, 1, "local")
    assert record["created_at"] == "2026-11-29T20:15:07Z"
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


def test_write_names_latest_copy_and_listing(tmp_path):
    first = write_record(build_record("local", OUTPUTS, CONFIG, now=WHEN), tmp_path)
    later = build_record("local", {**OUTPUTS, "shard_count": 3}, CONFIG, now=WHEN.replace(minute=16))
    second = write_record(later, tmp_path)
    write_record(build_record("local-eu", OUTPUTS, CONFIG, now=WHEN), tmp_path)  # another stack, same prefix
    assert first.name == "local-20261129-201507.json" and second.name == "local-20261129-201607.json"
    assert read_record(tmp_path / "local-latest.json") == read_record(second)
    assert stack_records("local", tmp_path) == [first, second]
    assert not list(tmp_path.glob("*.partial"))


def test_unknown_version_and_garbage_refused(tmp_path):
    path = write_record(build_record("local", OUTPUTS, CONFIG, now=WHEN), tmp_path)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "version": 2}))
    with pytest.raises(RecordError, match="format version 2"):
        read_record(path)
    path.write_text("{")
    with pytest.raises(RecordError, match="unreadable"):
        read_record(path)
    with pytest.raises(RecordError, match="does not exist"):
        read_record(tmp_path / "absent.json")
    (tmp_path / "other.json").write_text('{"format": "something"}')
    with pytest.raises(RecordError, match="not a Tonsurance deployment record"):
        read_record(tmp_path / "other.json")


def test_contracts_rollback_compares_the_record_and_names_its_commit():
    from ops.rollback import rollback_contracts
    record = build_record("local", OUTPUTS, CONFIG, now=WHEN)
    lines: list[str] = []
    assert rollback_contracts(OUTPUTS, record, lines.append)
    moved = {**OUTPUTS, "policy_router_address": "kQOtherRouter"}
    assert not rollback_contracts(moved, {**record, "git": {"commit": "abc123"}}, lines.append)
    assert "policy_router differ" in lines[-1] and "check out commit abc123" in lines[-1]


def test_previous_record_is_the_one_before_the_latest(tmp_path):
    from ops.rollback import previous_record
    with pytest.raises(RecordError, match="has 0 deployment record"):
        previous_record("local", tmp_path)
    first = write_record(build_record("local", OUTPUTS, CONFIG, now=WHEN), tmp_path)
    write_record(build_record("local", OUTPUTS, CONFIG, now=WHEN.replace(minute=30)), tmp_path)
    assert previous_record("local", tmp_path) == first
