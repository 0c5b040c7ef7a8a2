"""The backend-independent logic of ChainClient: finding a sent message with a proof of absence."""
from __future__ import annotations

import pytest
from pytoniq_core import Address, Cell

from chain.client import ChainClient, ChainError, ChainSettings
from chain.records import TxRecord

WALLET = Address("0:" + "33" * 32)


class HistoryClient(ChainClient):
    """Serves a fixed transaction history (newest first), as a backend would after the given pruning."""

    def __init__(self, history: list[TxRecord]):
        super().__init__(ChainSettings("localnet", localnet_path="unused.json"))
        self.history = history
        self.requested: list[int] = []

    def transactions(self, address, limit=20):
        self.requested.append(limit)
        return self.history[:limit]

    def account(self, address):
        raise NotImplementedError

    def run_get_method(self, address, method, stack=None):
        raise NotImplementedError

    def send_message(self, message):
        raise NotImplementedError

    def now(self):
        raise NotImplementedError


def external_tx(lt: int, prev_lt: int, body_hash: str) -> TxRecord:
    return TxRecord(address=WALLET, lt=lt, hash=f"{lt:064x}", success=True, exit_code=0, aborted=False,
                    in_sender=None, in_value=0, in_body=Cell.empty(), in_bounced=False, out_messages=[],
                    total_fees=1, gas_used=1, in_external=True, in_body_hash=body_hash, prev_lt=prev_lt)


def history(count: int, first_prev_lt: int = 0) -> list[TxRecord]:
    """`count` transactions with lts 1000, 2000, ... (newest first); body hash 'b<lt>'."""
    lts = [1000 * (i + 1) for i in range(count)]
    return [external_tx(lt, lts[i - 1] if i else first_prev_lt, f"b{lt}") for i, lt in reversed(list(enumerate(lts)))]


def test_finds_a_message_deep_in_the_history_by_widening_the_scan():
    client = HistoryClient(history(300))
    found = client.find_processed(WALLET, "b10000", after_lt=0)
    assert found.lt == 10000 and client.requested == [4, 16, 64, 256, 1024]


def test_absence_is_proven_back_to_the_recorded_lt():
    client = HistoryClient(history(100))
    assert client.find_processed(WALLET, "b-nothing", after_lt=95_000) is None
    assert client.requested == [4, 16]                   # stopped at the first transaction not newer
    assert HistoryClient(history(10)).find_processed(WALLET, "b-nothing") is None  # the whole history


def test_a_pruned_history_is_not_taken_as_proof_of_absence():
    pruned = HistoryClient(history(10, first_prev_lt=500))   # older transactions are gone
    with pytest.raises(ChainError, match="does not reach back to lt 0"):
        pruned.find_processed(WALLET, "b-nothing", after_lt=0)
    assert pruned.find_processed(WALLET, "b-nothing", after_lt=500) is None
