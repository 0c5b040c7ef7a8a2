"""The TON multisig v2 (ton-blockchain/multisig-contract-v2), the admin of every contract on mainnet. We never
deploy it; preflight reads it: `get_multisig_data` -> (next_order_seqno, threshold, signers, proposers), where
signers and proposers are dictionaries uint8 index -> address.

MULTISIG_V2_CODE_HASH is the hash of the official build, `build/Multisig.compiled.json` of that repository
(commit 036f3af611797192b8392ba42b6fbb5dd5efdc5f): a multisig whose code hashes otherwise is not the audited one.
"""
from __future__ import annotations

from dataclasses import dataclass

from pytoniq_core import Address, Cell, HashMap

from contracts.base import ContractWrapper, RunGetMethod

MULTISIG_V2_CODE_HASH = "77cd68912cd5e23ecf749d92282f924da209a7e738a11746b376c7baf1b92e83"  # pragma: allowlist secret (a public code hash)


@dataclass(frozen=True)
class MultisigData:
    next_order_seqno: int
    threshold: int
    signers: tuple[Address, ...]
    proposers: tuple[Address, ...]


def _addresses(item) -> tuple[Address, ...]:
    """A getter's dictionary uint8 -> address (a cell, or null for an empty one), in index order."""
    if not isinstance(item, Cell):
        return ()
    parsed = HashMap.parse(item.begin_parse(), 8, value_deserializer=lambda s: s.load_address())
    return tuple(parsed[i] for i in sorted(parsed))


class Multisig(ContractWrapper):
    def get_multisig_data(self, run: RunGetMethod) -> MultisigData:
        seqno, threshold, signers, proposers = self._get(run, "get_multisig_data")[:4]
        return MultisigData(seqno, threshold, _addresses(signers), _addresses(proposers))
