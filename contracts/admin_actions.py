"""The admin actions an operator runs through the multisig, as a table: each builds the exact messages the
multisig will send, and says what the contracts' getters must show once they ran.

    action = ADMIN_ACTIONS["add-keeper"]
    messages = action.messages(contracts, {"keeper": address}, roles_before)
    expected = action.expected(contracts, {"keeper": address})      # {"oracle keeper EQ..": "yes"}

Every body carries query id 0, so the same action on the same state is the same order cell: that is how an
open order for exactly this change is found again instead of creating a second one. `decode_body` names every
op of our contracts, so an order can be read before anyone signs it; `observe_roles` reads the getters an
admin message can change (on the chain or on a private TVM), so the effect is shown as before -> after.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from pytoniq_core import Address, Cell

from contracts.base import TON, CommonOp, CoverageType, RunGetMethod, body
from contracts.multi_tranche_vault import MultiTrancheVault, Op as VaultOp
from contracts.multisig import OrderMessage
from contracts.policy_router import Op as RouterOp, PolicyRouter
from contracts.pricing_oracle import Op as OracleOp, PricingOracle

# Gas for the receiving contract's handler, paid from the multisig's balance; what it does not use stays with
# the contract as storage rent (admin handlers send nothing back).
ADMIN_MESSAGE_VALUE = TON // 20
ADMINISTERED = ("oracle", "vault", "router")


@dataclass(frozen=True)
class Contracts:
    """The admin-governed contracts of a stack (raw or friendly addresses from its outputs)."""
    oracle: Address
    vault: Address
    router: Address

    @classmethod
    def from_outputs(cls, outputs: dict) -> "Contracts":
        return cls(Address(outputs["pricing_oracle_address"]), Address(outputs["multi_tranche_vault_address"]),
                   Address(outputs["policy_router_address"]))

    def by_name(self, name: str) -> Address:
        return getattr(self, name)

    def name_of(self, address: Address | None) -> str | None:
        return next((n for n in ADMINISTERED if address is not None and self.by_name(n) == address), None)


# ---- reading the roles an admin message can change ------------------------------------------------------

def _text(value: object, fmt: Callable[[Address], str]) -> str:
    if isinstance(value, Address):
        return fmt(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else str(value)


def keepers_text(keepers: Iterable[Address], fmt: Callable[[Address], str]) -> str:
    """A keeper set as text: the addresses in account-id order, or "none"."""
    ordered = sorted(keepers, key=lambda a: a.hash_part)
    return ", ".join(fmt(k) for k in ordered) or "none"


def coverage_name(coverage_type: CoverageType | int) -> str:
    return CoverageType(coverage_type).name.lower().replace("_", "-")


def observe_roles(contracts: Contracts, run: RunGetMethod, mentioned: Iterable[Address] = (),
                  fmt: Callable[[Address], str] = lambda a: a.to_str()) -> dict[str, str]:
    """Every role getter of oracle, vault and router as text (keys like "vault paused"), plus whether each
    mentioned address is a keeper. Both sides of before -> after come from here."""
    oracle, vault, router = (PricingOracle(contracts.oracle), MultiTrancheVault(contracts.vault),
                             PolicyRouter(contracts.router))
    values: dict[str, object] = {
        "oracle admin": oracle.get_admin(run), "oracle pending admin": oracle.get_pending_admin(run),
        "oracle keepers": keepers_text(oracle.get_keepers(run), fmt),
        "oracle max staleness": oracle.get_max_staleness(run),
        **{f"oracle bounds {coverage_name(t)}": "{}..{}".format(*oracle.get_price_bounds(run, t)) for t in CoverageType},
        **{f"oracle price {coverage_name(t)}": "{} (seq {})".format(p.price, p.seq)
           for t in CoverageType for p in [oracle.get_price(run, t)]},
        "vault admin": vault.get_admin(run), "vault pending admin": vault.get_pending_admin(run),
        "vault paused": vault.is_paused(run), "vault oracle": vault.get_oracle(run),
        "vault claims processor": vault.get_claims_processor(run), "vault treasury": vault.get_treasury(run),
        "router admin": router.get_admin(run), "router pending admin": router.get_pending_admin(run),
        "router oracle": router.get_oracle(run),
    }
    for address in dict.fromkeys(mentioned):
        values[f"oracle keeper {fmt(address)}"] = oracle.is_keeper(run, address)
    return {key: _text(value, fmt) for key, value in values.items()}


# ---- the actions -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    name: str
    kind: str       # "address" | "addresses" (comma-separated) | "contract" (oracle, vault, router, all)
                    # | "coverage" (depeg, smart-contract, ...) | "int"
    help: str


Messages = Callable[[Contracts, dict, dict], list[OrderMessage]]
Expected = Callable[[Contracts, dict, Callable[[Address], str]], dict[str, str]]


@dataclass(frozen=True)
class AdminAction:
    name: str
    help: str
    params: tuple[Param, ...]
    messages: Messages      # (contracts, args, roles before) -> what the multisig sends, in order
    expected: Expected      # (contracts, args, address format) -> role values once they ran

    def mentioned(self, args: dict) -> list[Address]:
        found: list[Address] = []
        for p in self.params:
            found += [args[p.name]] if p.kind == "address" else list(args[p.name]) if p.kind == "addresses" else []
        return found


def _to(address: Address, message: Cell) -> OrderMessage:
    return OrderMessage(address, ADMIN_MESSAGE_VALUE, message)


def _targets(args: dict) -> tuple[str, ...]:
    chosen = args["contract"]
    if chosen == "all":
        return ADMINISTERED
    if chosen not in ADMINISTERED:
        raise ValueError(f"contract must be one of {', '.join(ADMINISTERED)} or all, not {chosen!r}")
    return (chosen,)


def keeper_messages(oracle: Address, current: Iterable[Address], wanted: Iterable[Address]) -> list[OrderMessage]:
    """From the keeper set on chain to the wanted one: `replace_keeper` for each keeper leaving while another
    joins (a rotation), then `add_keeper` / `remove_keeper` for the rest, in account-id order (so the same
    change is always the same messages, and so the same order)."""
    current, wanted = set(current), set(wanted)
    leaving = sorted(current - wanted, key=lambda a: a.hash_part)
    joining = sorted(wanted - current, key=lambda a: a.hash_part)
    return ([_to(oracle, PricingOracle.build_replace_keeper_body(old, new)) for old, new in zip(leaving, joining)]
            + [_to(oracle, PricingOracle.build_add_keeper_body(k)) for k in joining[len(leaving):]]
            + [_to(oracle, PricingOracle.build_remove_keeper_body(k)) for k in leaving[len(joining):]])


def _keepers_before(before: dict) -> list[Address]:
    text = before.get("oracle keepers", "none")
    return [] if text == "none" else [Address(k) for k in text.split(", ")]


def _set_oracle_messages(c: Contracts, args: dict, before: dict) -> list[OrderMessage]:
    """contracts/README.md, "Rotating the oracle": sales stop (the vault's pause) while vault and router switch;
    the vault stays paused until a keeper has published on the new oracle (then `unpause`)."""
    pause = [] if before.get("vault paused") == "yes" else [_to(c.vault, MultiTrancheVault.build_pause_body())]
    return [*pause, _to(c.vault, MultiTrancheVault.build_set_address_body(VaultOp.SET_ORACLE, args["oracle"])),
            _to(c.router, PolicyRouter.build_set_oracle_body(args["oracle"]))]


ACTIONS: tuple[AdminAction, ...] = (
    AdminAction(
        "set-keepers", "make the oracle's keeper set exactly these (comma-separated): replace, add, remove",
        (Param("keepers", "addresses", "every keeper wallet, comma-separated"),),
        lambda c, a, b: keeper_messages(c.oracle, _keepers_before(b), a["keepers"]),
        lambda c, a, f: {"oracle keepers": keepers_text(a["keepers"], f)}),
    AdminAction(
        "add-keeper", "make an address a keeper of the oracle (it may publish prices)",
        (Param("keeper", "address", "the keeper wallet"),),
        lambda c, a, _b: [_to(c.oracle, PricingOracle.build_add_keeper_body(a["keeper"]))],
        lambda c, a, f: {f"oracle keeper {f(a['keeper'])}": "yes"}),
    AdminAction(
        "remove-keeper", "take an address out of the oracle's keepers (a compromised keeper: pause first)",
        (Param("keeper", "address", "the keeper wallet"),),
        lambda c, a, _b: [_to(c.oracle, PricingOracle.build_remove_keeper_body(a["keeper"]))],
        lambda c, a, f: {f"oracle keeper {f(a['keeper'])}": "no"}),
    AdminAction(
        "replace-keeper", "rotate a keeper in one message: the old wallet leaves, the new one joins",
        (Param("old", "address", "the keeper wallet leaving"), Param("new", "address", "the keeper wallet joining")),
        lambda c, a, _b: [_to(c.oracle, PricingOracle.build_replace_keeper_body(a["old"], a["new"]))],
        lambda c, a, f: {f"oracle keeper {f(a['new'])}": "yes", f"oracle keeper {f(a['old'])}": "no"}),
    AdminAction(
        "pause", "the vault's pause, the protocol's one: every deposit and sale refused; claims and redemptions go on",
        (),
        lambda c, a, _b: [_to(c.vault, MultiTrancheVault.build_pause_body())],
        lambda c, a, f: {"vault paused": "yes"}),
    AdminAction(
        "unpause", "open deposits and sales (the mainnet vault is deployed paused: this is its first order)",
        (),
        lambda c, a, _b: [_to(c.vault, MultiTrancheVault.build_unpause_body())],
        lambda c, a, f: {"vault paused": "no"}),
    AdminAction(
        "set-price-bounds", "the range a keeper's price of one coverage type must lie in (ppb a year, 0 < min <= max)",
        (Param("coverage", "coverage", "depeg, smart-contract, oracle-failure, bridge-hack or cex-liquidation"),
         Param("min", "int", "least price"), Param("max", "int", "greatest price")),
        lambda c, a, _b: [_to(c.oracle, PricingOracle.build_set_price_bounds_body(a["coverage"], a["min"], a["max"]))],
        lambda c, a, f: {f"oracle bounds {coverage_name(a['coverage'])}": f"{a['min']}..{a['max']}"}),
    AdminAction(
        "reset-price", "forget one coverage type's price and sequence (a bad price published): sales of it stop "
                       "until a keeper publishes again from seq 1",
        (Param("coverage", "coverage", "depeg, smart-contract, oracle-failure, bridge-hack or cex-liquidation"),),
        lambda c, a, _b: [_to(c.oracle, PricingOracle.build_reset_price_body(a["coverage"]))],
        lambda c, a, f: {f"oracle price {coverage_name(a['coverage'])}": "0 (seq 0)"}),
    AdminAction(
        "set-max-staleness", "how old the oracle's price may be before sales refuse it (1..86400 s)",
        (Param("seconds", "int", "seconds"),),
        lambda c, a, _b: [_to(c.oracle, PricingOracle.build_set_max_staleness_body(a["seconds"]))],
        lambda c, a, f: {"oracle max staleness": str(a["seconds"])}),
    AdminAction(
        "propose-admin", "step one of an admin handover: the new admin then sends accept_admin",
        (Param("contract", "contract", "oracle, vault, router or all"), Param("admin", "address", "the new admin")),
        lambda c, a, _b: [_to(c.by_name(n), body(CommonOp.PROPOSE_ADMIN).store_address(a["admin"]).end_cell())
                          for n in _targets(a)],
        lambda c, a, f: {f"{n} pending admin": f(a["admin"]) for n in _targets(a)}),
    AdminAction(
        "accept-admin", "step two of a handover, from the proposed admin (this multisig)",
        (Param("contract", "contract", "oracle, vault, router or all"),),
        lambda c, a, _b: [_to(c.by_name(n), body(CommonOp.ACCEPT_ADMIN).end_cell()) for n in _targets(a)],
        lambda c, a, f: {f"{n} admin": f(a["multisig"]) for n in _targets(a)}),
    AdminAction(
        "set-oracle", "switch the vault and the router to another oracle; the vault is paused (unpause once a "
                      "keeper has published on the new oracle)",
        (Param("oracle", "address", "the new PricingOracle"),),
        _set_oracle_messages,
        lambda c, a, f: {"vault paused": "yes", "vault oracle": f(a["oracle"]), "router oracle": f(a["oracle"])}),
    AdminAction(
        "set-claims-processor", "the account allowed to pay claims from the vault",
        (Param("processor", "address", "the new claims processor"),),
        lambda c, a, _b: [_to(c.vault, MultiTrancheVault.build_set_address_body(VaultOp.SET_CLAIMS_PROCESSOR,
                                                                                  a["processor"]))],
        lambda c, a, f: {"vault claims processor": f(a["processor"])}),
)
ADMIN_ACTIONS = {action.name: action for action in ACTIONS}


# ---- reading a message body back -------------------------------------------------------------------------

# op -> (contract.name, fields): every admin op of our contracts (contracts/README.md)
_ADDRESS, _U8, _U16, _U32, _U64 = "address", "uint8", "uint16", "uint32", "uint64"
DECODERS: dict[int, tuple[str, tuple[tuple[str, str], ...]]] = {
    CommonOp.PROPOSE_ADMIN: ("propose_admin", (("admin", _ADDRESS),)),
    CommonOp.PAUSE: ("pause", ()),
    CommonOp.UNPAUSE: ("unpause", ()),
    CommonOp.ACCEPT_ADMIN: ("accept_admin", ()),
    CommonOp.RECOVER: ("recover", ()),
    OracleOp.ADD_KEEPER: ("add_keeper", (("keeper", _ADDRESS),)),
    OracleOp.REMOVE_KEEPER: ("remove_keeper", (("keeper", _ADDRESS),)),
    OracleOp.SET_MAX_STALENESS: ("set_max_staleness", (("seconds", _U32),)),
    OracleOp.REPLACE_KEEPER: ("replace_keeper", (("old", _ADDRESS), ("new", _ADDRESS))),
    OracleOp.SET_PRICE_BOUNDS: ("set_price_bounds", (("coverage_type", _U8), ("min_price", _U64), ("max_price", _U64))),
    OracleOp.RESET_PRICE: ("reset_price", (("coverage_type", _U8),)),
    VaultOp.SET_CLAIMS_PROCESSOR: ("set_claims_processor", (("processor", _ADDRESS),)),
    VaultOp.SET_ORACLE: ("set_oracle", (("oracle", _ADDRESS),)),
    VaultOp.SET_TREASURY: ("set_treasury", (("treasury", _ADDRESS),)),
    VaultOp.SET_PARAMS: ("set_params", (("utilization_cap_bps", _U16), ("treasury_share_bps", _U16))),
    VaultOp.RECOVER_SHARD: ("recover_shard", (("shard_id", _U16),)),
    RouterOp.SET_ORACLE: ("set_oracle", (("oracle", _ADDRESS),)),
}


@dataclass(frozen=True)
class DecodedBody:
    op: int | None
    name: str | None                # None: not an op of our contracts
    fields: dict[str, object]
    problem: str | None = None      # why it could not be read completely


def decode_body(cell: Cell) -> DecodedBody:
    """An admin message body as op name and fields; anything else is reported, never guessed."""
    s = cell.begin_parse()
    if s.remaining_bits < 32:
        return DecodedBody(None, None, {}, "empty body (a plain transfer)" if s.remaining_bits == 0
                           else "body shorter than an op")
    op = s.load_uint(32)
    if op not in DECODERS:
        return DecodedBody(op, None, {}, f"op 0x{op:08x} is not an admin op of the Tonsurance contracts")
    name, layout = DECODERS[op]
    try:
        fields: dict[str, object] = {"query_id": s.load_uint(64)}
        for field_name, kind in layout:
            fields[field_name] = s.load_address() if kind == _ADDRESS else s.load_uint(int(kind[4:]))
        extra = s.remaining_bits or s.remaining_refs
    except Exception as error:  # noqa: BLE001 - a truncated body is reported as such
        return DecodedBody(op, name, {}, f"truncated {name} body ({type(error).__name__})")
    return DecodedBody(op, name, fields, "trailing data after the fields" if extra else None)
