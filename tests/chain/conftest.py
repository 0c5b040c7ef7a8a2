from __future__ import annotations

import base64
from pathlib import Path

import pytest
from nacl.bindings import crypto_sign_seed_keypair
from pytoniq_core import Address, Cell, StateInit, begin_cell

FIXTURES = Path(__file__).parent / "fixtures"
TON = 10**9


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
