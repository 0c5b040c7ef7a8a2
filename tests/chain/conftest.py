from __future__ import annotations

import base64
from pathlib import Path

import pytest
from nacl.bindings import crypto_sign_seed_keypair
from pytoniq_core import Address, Cell, StateInit, begin_cell

from chain.records import TON  # noqa: F401 (the chain tests import it from here)

FIXTURES = Path(__file__).parent / "fixtures"


def counter_code() -> Cell:
    """tests/chain/fixtures/counter.fc compiled with func-js 0.11.0 (func 0.4.6)."""
    return Cell.one_from_boc(base64.b64decode((FIXTURES / "counter.code.b64").read_text()))


def counter_state_init(contract_id: int) -> StateInit:
    return StateInit(code=counter_code(), data=begin_cell().store_uint(contract_id, 32).store_uint(0, 32).end_cell())


def address_of(state_init: StateInit) -> Address:
    return Address((0, state_init.serialize().hash))


def op_body(op: int, query_id: int = 0) -> Cell:
    return begin_cell().store_uint(op, 32).store_uint(query_id, 64).end_cell()


def keypair(seed: int) -> tuple[bytes, bytes]:
    """A deterministic test key pair (public key, 64-byte secret key); never a real wallet's key."""
    return crypto_sign_seed_keypair(bytes([seed]) * 32)


@pytest.fixture
def user() -> Address:
    return Address("0:" + "11" * 32)


@pytest.fixture
def chain_file(tmp_path) -> Path:
    return tmp_path / "localnet" / "chain.json"


@pytest.fixture
def localnet(chain_file):
    from chain.client import ChainSettings
    from chain.connect import connect
    return connect(ChainSettings("localnet", localnet_path=str(chain_file), poll_interval_seconds=0.02))


def deploy_transfers(first_id: int, count: int, value: int = TON // 20) -> list:
    """Transfers deploying `count` counter contracts with ids first_id.. (each its own address)."""
    from chain.wallets import Transfer
    return [Transfer(address_of(s), value, state_init=s)
            for s in (counter_state_init(first_id + i) for i in range(count))]


HIGHLOAD_SEED = b"\x07" * 32
