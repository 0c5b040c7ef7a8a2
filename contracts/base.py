"""Shared by the contract wrappers: compiled artefacts, addresses, message headers and getter plumbing.

Runtime code reads the committed artefacts in contracts/build/ (written by scripts/build_contracts.mjs);
nothing here needs node.
"""
from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Callable, NamedTuple

from pytoniq_core import Address, Builder, Cell, Slice, StateInit, begin_cell

from chain.records import TON  # noqa: F401 (nanotons per TON; the wrappers import it from here)

BUILD_DIR = Path(__file__).parent / "build"
WORKCHAIN = 0
STORAGE_RESERVE = TON // 10  # what `recover` leaves on a contract (common.fc)
PRICE_SCALE = 10**9  # oracle prices: annual premium rate in parts per billion of the coverage
# Gas budget per hop that each flow's fee pays for (common.fc, gas::*); keyed by artefact name.
GAS_BUDGETS = {"PolicyRouter": 15000, "PricingOracle": 15000, "MultiTrancheVault": 60000, "PolicyShard": 50000,
               "SureTokenMinter": 20000, "SureTokenWallet": 20000}

# run_get_method(address, method, stack) -> stack: chain.sandbox.Sandbox.run_get_method has this shape, and so
# does any chain client able to run a getter. Stack items are int, Cell, Slice or None.
RunGetMethod = Callable[[Address, str, list], list]


class CommonOp(IntEnum):
    """Ops shared by several contracts (see contracts/README.md)."""
    PROPOSE_ADMIN = 0x1E5A0001
    PAUSE = 0x1E5A0002
    UNPAUSE = 0x1E5A0003
    ACCEPT_ADMIN = 0x1E5A0004
    RECOVER = 0x1E5A0005
    EXCESSES = 0xD53276DB  # TEP-74


class ExitCode(IntEnum):
    """Error codes thrown by the contracts (contracts/func/common.fc)."""
    BAD_SHARD_COUNT = 400
    UNAUTHORIZED = 401
    INSUFFICIENT_VALUE = 402
    UNKNOWN_TRANCHE = 404
    INSUFFICIENT_BALANCE = 406
    DUPLICATE_POLICY = 408
    WRONG_SHARD = 409
    BAD_COVERAGE_TYPE = 410
    BAD_AMOUNT = 411
    BAD_DURATION = 412
    WRONG_WORKCHAIN = 413
    STALE_PRICE = 414
    UNDERPRICED = 415
    OVER_CAPACITY = 416
    SHARD_FULL = 417
    OLD_UPDATE = 418
    NO_POLICY = 419
    BAD_PARAM = 420
    PRICE_OUT_OF_BOUNDS = 421
    SEQ_STEP = 422
    PAUSED = 423
    LOCKED = 425
    NOT_DUE = 426
    UNKNOWN_OP = 0xFFFF


class CoverageType(IntEnum):
    DEPEG = 0
    SMART_CONTRACT = 1
    ORACLE_FAILURE = 2
    BRIDGE_HACK = 3
    CEX_LIQUIDATION = 4


@dataclass(frozen=True)
class CompiledContract:
    name: str
    code: Cell
    code_hash: str  # hex


class ArtifactError(Exception):
    pass


@functools.cache
def load_artifact(name: str) -> CompiledContract:
    """contracts/build/<name>.json, checked: the stored hash must be the hash of the stored code."""
    path = BUILD_DIR / f"{name}.json"
    try:
        artefact = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing: run `node scripts/build_contracts.mjs`") from None
    code = Cell.one_from_boc(base64.b64decode(artefact["codeBoc"]))
    if code.hash.hex() != artefact["codeHash"]:
        raise ArtifactError(f"{path}: codeHash does not match codeBoc")
    return CompiledContract(name=name, code=code, code_hash=artefact["codeHash"])


class Deployment(NamedTuple):
    """What from_config returns: the address (workchain 0) and the StateInit that deploys it there."""
    address: Address
    state_init: StateInit


def deployment(code: Cell, data: Cell) -> Deployment:
    state_init = StateInit(code=code, data=data)
    return Deployment(Address((WORKCHAIN, state_init.serialize().hash)), state_init)


def body(op: int, query_id: int = 0) -> Builder:
    """Every message body starts with op:uint32 query_id:uint64."""
    return begin_cell().store_uint(op, 32).store_uint(query_id, 64)


def address_arg(address: Address) -> Slice:
    """An address as a getter argument."""
    return begin_cell().store_address(address).end_cell().begin_parse()


def read_address(item: Slice) -> Address | None:
    """An address returned by a getter (None for addr_none)."""
    return item.load_address()


def risk_premium(coverage: int, price: int, duration_days: int) -> int:
    """The premium for the risk at the oracle's price: ceil(coverage * price * days / (365 * PRICE_SCALE))."""
    return -(-coverage * price * duration_days // (365 * PRICE_SCALE))


def premium_due(coverage: int, price: int, duration_days: int, rent: int) -> int:
    """The least premium the vault accepts: the risk premium plus `rent`, what the policy's storage costs its
    shard over its lifetime (the vault's or router's get_policy_rent(duration_days): it follows the network's
    storage prices). The vault books premium - rent as yield and sends the rent to the shard."""
    return risk_premium(coverage, price, duration_days) + rent


class ContractWrapper:
    """A deployed (or about to be deployed) contract: its address and the getters run through a client."""

    def __init__(self, address: Address):
        self.address = address

    def _get(self, run: RunGetMethod, method: str, *args: object) -> list:
        return run(self.address, method, list(args))

    def _get_int(self, run: RunGetMethod, method: str, *args: object) -> int:
        return self._get(run, method, *args)[0]

    def _get_address(self, run: RunGetMethod, method: str, *args: object) -> Address | None:
        return read_address(self._get(run, method, *args)[0])

    def _get_bool(self, run: RunGetMethod, method: str, *args: object) -> bool:
        return self._get_int(run, method, *args) != 0


def build_propose_admin_body(new_admin: Address | None, query_id: int = 0) -> Cell:
    """Admin only: step one of the handover; `new_admin` takes over when it sends accept_admin."""
    return body(CommonOp.PROPOSE_ADMIN, query_id).store_address(new_admin).end_cell()


def build_accept_admin_body(query_id: int = 0) -> Cell:
    """The proposed admin only: step two of the handover."""
    return body(CommonOp.ACCEPT_ADMIN, query_id).end_cell()


def build_recover_body(query_id: int = 0) -> Cell:
    """Admin only: send the contract's TON above what it owes and its storage reserve to the admin."""
    return body(CommonOp.RECOVER, query_id).end_cell()


def build_pause_body(query_id: int = 0) -> Cell:
    return body(CommonOp.PAUSE, query_id).end_cell()


def build_unpause_body(query_id: int = 0) -> Cell:
    return body(CommonOp.UNPAUSE, query_id).end_cell()


class AdminOps:
    """Message bodies every contract with an admin accepts (oracle, vault, router)."""
    build_propose_admin_body = staticmethod(build_propose_admin_body)
    build_accept_admin_body = staticmethod(build_accept_admin_body)
    build_recover_body = staticmethod(build_recover_body)


class PauseOps:
    """Pause and unpause (vault: deposits and sales; router: create_policy)."""
    build_pause_body = staticmethod(build_pause_body)
    build_unpause_body = staticmethod(build_unpause_body)
