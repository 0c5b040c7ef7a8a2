"""Admin actions as multisig orders: create one, list the open ones, read one before signing, approve it.

    python -m ops multisig list    --stack S [--all] [--json]
    python -m ops multisig show    --stack S ORDER [--json]
    python -m ops multisig new     --stack S ACTION [ARG ...] [--expires-in 7d] KEY [--yes]
    python -m ops multisig approve --stack S ORDER KEY [--yes]
    KEY is --key-file PATH (a file holding the wallet's 24 words) or --key-secret-id ID [--aws-region R]

The multisig is the stack's admin (`tonsurance:adminAddress`, the official multisig v2), the contracts come
from the stack's outputs. Every order is shown decoded (each message the multisig will send: destination,
value, op and fields) with its effect on the contracts' getters, computed by running the order to its end on
a private copy of the chain; `new` and `approve` send nothing unless that run gives the intended effect. The
signer's key is read from the file or the secret inside the command, used to sign, and never printed, logged
or put on the command line. `new` from a signer counts as that signer's approval; from a proposer (the
deployer wallet, when the multisig lists it) it does not. At the threshold the order executes by itself.
Actions: `python -m ops multisig new --help`.
"""
from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from pytoniq_core import Address

from chain.client import ChainClient
from chain.connect import connect
from chain.wallets import WalletKey, WalletV4R2
from contracts.admin_actions import ADMIN_ACTIONS, Contracts, Param, coverage_name, decode_body, observe_roles
from contracts.base import TON, CoverageType
from contracts.multisig import Multisig, SentMessageAction, UpdateParamsAction, parse_order
from ton_deploy.mnemonic import DeployerMnemonicError, fetch_secret_string
from ton_deploy.multisig_orders import (
    DAY, DEFAULT_EXPIRY_SECONDS, OrderRefused, OrderView, Rehearsal, Watch, approve_order, create_order, read_order,
    read_orders, rehearse,
)

SUBCOMMANDS = ("list", "show", "new", "approve")   # each takes its own --stack (ops/__main__.py)
Confirm = Callable[[str], bool]


class KeyError_(Exception):
    """The signer's key could not be read (the message never holds the key)."""


@dataclass
class Session:
    """What every subcommand works with: the stack's chain, multisig and contracts."""
    stack: str
    network: str
    client: ChainClient
    multisig: Address
    contracts: Contracts
    journal_dir: str
    aws_region: str | None = None    # default region of --key-secret-id

    def fmt(self, address: Address | None) -> str:
        if address is None:
            return "none"
        return address.to_str(is_user_friendly=True, is_bounceable=True, is_test_only=self.network != "mainnet")

    def watch(self, mentioned: list[Address]) -> Watch:
        return Watch.stack(self.contracts, mentioned, self.fmt)

    def name(self, address: Address | None) -> str:
        """An address with the stack's name for it, or a warning that it is none of the stack's contracts."""
        if address == self.multisig:
            return f"the multisig {self.fmt(address)}"
        known = self.contracts.name_of(address)
        return f"{known} {self.fmt(address)}" if known else f"{self.fmt(address)} (NOT a contract of this stack)"


def open_session(stack_name: str) -> Session:
    from ops.checks import contracts_args, stack_config
    from ops.stack import ROOT, open_stack, plain_outputs

    stack = open_stack(stack_name)
    cfg, outputs = stack_config(stack), plain_outputs(stack)
    deployer = contracts_args(cfg, ROOT).deployer
    return Session(cfg.stack, cfg.ton.network, connect(deployer.chain), Address(cfg.ton.admin_address),
                   Contracts.from_outputs(outputs), os.path.dirname(deployer.journal_path),
                   cfg.aws.region if cfg.aws else cfg.services.aws_region)


# ---- the signer's key ------------------------------------------------------------------------------------

def read_key(args: argparse.Namespace) -> WalletKey:
    """The wallet key from --key-file or --key-secret-id; errors name the source, never the words."""
    if args.key_file:
        path = Path(args.key_file)
        try:
            mode = path.stat().st_mode
            words = path.read_text()
        except OSError as error:
            raise KeyError_(f"cannot read the key file {path}: {error.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            print(f"warning: the key file {path} may be read by other users (chmod 600 it)", file=sys.stderr)
        source = f"the key file {path}"
    else:
        if not args.aws_region:
            raise KeyError_("--key-secret-id needs --aws-region (or tonsurance:awsRegion in the stack's config)")
        try:
            words = fetch_secret_string(args.key_secret_id, args.aws_region, what="the signer key")
        except DeployerMnemonicError as error:
            raise KeyError_(str(error)) from None
        source = f"Secrets Manager secret {args.key_secret_id!r}"
    try:
        return WalletKey.from_mnemonic(words)
    except ValueError:
        raise KeyError_(f"{source} does not hold a valid 24-word TON mnemonic (the words separated by spaces, "
                        "nothing else)") from None


def signer_wallet(session: Session, key: WalletKey) -> WalletV4R2:
    """The signer's wallet v4r2; its journal lives beside the stack's deployer journal, one file per wallet."""
    address = WalletV4R2(None, key, os.devnull).address  # type: ignore[arg-type]  # address only
    journal = Path(session.journal_dir) / f"{session.stack}-signer-{address.hash_part.hex()[:16]}.json"
    return WalletV4R2(session.client, key, journal)


# ---- describing orders -----------------------------------------------------------------------------------

def _when(timestamp: int, now: int) -> str:
    moment = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    left = timestamp - now
    if left < 0:
        return f"{moment} (expired {(-left) // 3600} h ago)"
    return f"{moment} (in {left // DAY} d {left % DAY // 3600} h)"


def _ton(nanotons: int) -> str:
    return f"{nanotons / TON:.4f} TON"


def describe_actions(session: Session, view: OrderView) -> list[dict[str, Any]]:
    """Every action of the order, decoded; `warning` on anything a signer must not approve blindly."""
    described = []
    for action in parse_order(view.data.order) if view.data.order is not None else []:
        if isinstance(action, SentMessageAction):
            decoded = decode_body(action.body)
            fields = {k: session.fmt(v) if isinstance(v, Address) else v for k, v in decoded.fields.items()}
            item = {"kind": "message", "to": session.name(action.destination), "value": action.value,
                    "mode": action.mode, "bounce": action.bounce, "op": decoded.name, "fields": fields,
                    "body_boc": action.body.to_boc().hex()}
            warnings = [decoded.problem] if decoded.problem else []
            if session.contracts.name_of(action.destination) is None:
                warnings.append("the destination is not one of this stack's contracts")
            if action.has_state_init:
                warnings.append("the message deploys a contract (it carries a StateInit)")
            if warnings:
                item["warning"] = "; ".join(warnings)
        elif isinstance(action, UpdateParamsAction):
            item = {"kind": "update_multisig_params", "threshold": action.threshold,
                    "signers": [session.fmt(a) for a in action.signers],
                    "proposers": [session.fmt(a) for a in action.proposers],
                    "warning": "changes the multisig's own signers and threshold"}
        else:
            item = {"kind": "unknown", "warning": f"unreadable action: {action.reason}"}
        described.append(item)
    return described


def order_summary(session: Session, view: OrderView, now: int) -> dict[str, Any]:
    data = view.data
    return {"seqno": view.seqno, "address": session.fmt(view.address), "state": view.state,
            "approvals": data.approvals_num, "threshold": data.threshold, "approved_by": list(data.approved_by),
            "expires_at": data.expiration, "expires": _when(data.expiration, now)}


def print_order(session: Session, view: OrderView, rehearsal: Rehearsal | None, out=print) -> None:
    now = session.client.now()
    summary = order_summary(session, view, now)
    out(f"order #{view.seqno} of the multisig {session.fmt(session.multisig)} (order contract {summary['address']})")
    out(f"  state: {view.state}; approvals {view.approvals} of {view.data.threshold} "
        f"(signers {', '.join(map(str, view.data.approved_by)) or 'none yet'}); expires {summary['expires']}")
    out("  the multisig sends, in this order, when the order executes:")
    for number, item in enumerate(describe_actions(session, view), 1):
        if item["kind"] == "message":
            fields = ", ".join(f"{k}={v}" for k, v in item["fields"].items())
            out(f"    {number}. to {item['to']}: {item['op'] or 'UNKNOWN'}({fields}) with {_ton(item['value'])}, "
                f"mode {item['mode']}, {'bounceable' if item['bounce'] else 'non-bounceable'}")
            out(f"       body BOC {item['body_boc']}")
        else:
            out(f"    {number}. {item['kind']}: {json.dumps({k: v for k, v in item.items() if k != 'kind'})}")
        if "warning" in item:
            out(f"       WARNING: {item['warning']}")
    if rehearsal is not None:
        out("  effect, computed by running the order to its end on a private copy of the chain:")
        for key, (before, after) in rehearsal.changes.items():
            out(f"    {key}: {before} -> {after}")
        if not rehearsal.changes:
            out("    no role getter changes")
        for failure in rehearsal.failures:
            out(f"    FAILS: {failure}")
        if not rehearsal.executed:
            out("    the multisig would NOT execute it")


def rehearse_view(session: Session, view: OrderView) -> Rehearsal | None:
    if view.state != "open":
        return None
    return rehearse(session.client, session.multisig, view.data.order, view.seqno, session.watch(_mentioned(view)),
                    creator=None, approver=None)


def _mentioned(view: OrderView) -> list[Address]:
    """Addresses in the order's admin messages (keepers to look up before and after)."""
    found = []
    for action in parse_order(view.data.order) if view.data.order is not None else []:
        if isinstance(action, SentMessageAction):
            found += [v for v in decode_body(action.body).fields.values() if isinstance(v, Address)]
    return found


# ---- the subcommands -------------------------------------------------------------------------------------

def cmd_list(session: Session, args: argparse.Namespace, out=print) -> int:
    data = Multisig(session.multisig).get_multisig_data(session.client.run_get_method)
    now = session.client.now()
    views = [v for v in read_orders(session.client, session.multisig, data) if args.all or v.state == "open"]
    if args.json:
        out(json.dumps({"multisig": session.fmt(session.multisig), "threshold": data.threshold,
                        "signers": [session.fmt(a) for a in data.signers],
                        "next_order_seqno": data.next_order_seqno,
                        "orders": [{**order_summary(session, v, now), "actions": describe_actions(session, v)}
                                   for v in views]}, indent=2))
        return 0
    out(f"multisig {session.fmt(session.multisig)}: threshold {data.threshold} of {len(data.signers)} signers, "
        f"{data.next_order_seqno} order(s) so far")
    for index, signer in enumerate(data.signers):
        out(f"  signer {index}: {session.fmt(signer)}")
    if not views:
        out("no open orders" if not args.all else "no orders")
    for view in views:
        ops = [item.get("op") or item["kind"] for item in describe_actions(session, view)]
        out(f"#{view.seqno} {view.state}: {view.approvals}/{view.data.threshold} approvals "
            f"(signers {', '.join(map(str, view.data.approved_by)) or 'none'}), expires "
            f"{_when(view.data.expiration, now)}: {', '.join(ops)}")
    return 0


def cmd_show(session: Session, args: argparse.Namespace, out=print) -> int:
    data = Multisig(session.multisig).get_multisig_data(session.client.run_get_method)
    view = read_order(session.client, session.multisig, data, args.order)
    if view is None or view.data.threshold is None:
        print(f"order #{args.order} does not exist on the multisig (next order: #{data.next_order_seqno})",
              file=sys.stderr)
        return 1
    rehearsal = rehearse_view(session, view)
    if args.json:
        out(json.dumps({**order_summary(session, view, session.client.now()),
                        "actions": describe_actions(session, view),
                        "effect": {k: {"before": b, "after": a} for k, (b, a) in rehearsal.changes.items()}
                        if rehearsal else None,
                        "executes": rehearsal.executed if rehearsal else None}, indent=2))
        return 0
    print_order(session, view, rehearsal, out)
    if view.state == "open":
        out(f"  to approve: python -m ops multisig approve --stack {session.stack} {view.seqno} --key-file <file>")
    return 0


def parse_action_args(action_name: str, values: list[str], multisig: Address) -> dict[str, Any]:
    action = ADMIN_ACTIONS.get(action_name)
    if action is None:
        raise ValueError(f"unknown action {action_name!r}; one of: {', '.join(ADMIN_ACTIONS)}")
    if len(values) != len(action.params):
        usage = " ".join(p.name.upper() for p in action.params)
        raise ValueError(f"{action_name} takes {len(action.params)} argument(s): {usage}")
    parsed: dict[str, Any] = {"multisig": multisig}
    for param, value in zip(action.params, values):
        parsed[param.name] = _parse_value(param, value)
    return parsed


def _address(name: str, value: str) -> Address:
    try:
        return Address(value.strip())
    except Exception:  # noqa: BLE001 - pytoniq raises several kinds
        raise ValueError(f"{name}: {value!r} is not a TON address") from None


def _parse_value(param: Param, value: str) -> Any:
    if param.kind == "address":
        return _address(param.name, value)
    if param.kind == "addresses":
        return [_address(param.name, v) for v in value.split(",") if v.strip()]
    if param.kind == "coverage":
        names = {coverage_name(t): t for t in CoverageType}
        if value not in names and not (value.isdigit() and int(value) in set(CoverageType)):
            raise ValueError(f"{param.name}: {value!r} is not a coverage type ({', '.join(names)})")
        return names[value] if value in names else CoverageType(int(value))
    if param.kind == "int":
        if not value.isdigit():
            raise ValueError(f"{param.name}: {value!r} is not a non-negative integer")
        return int(value)
    return value


def parse_duration(text: str) -> int:
    units = {"d": DAY, "h": 3600, "m": 60, "s": 1}
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 7d, 12h or 3600")
    return int(number) * unit


def cmd_new(session: Session, args: argparse.Namespace, out=print, confirm: Confirm | None = None) -> int:
    action = ADMIN_ACTIONS[args.action]
    params = parse_action_args(args.action, args.args, session.multisig)
    roles = observe_roles(session.contracts, session.client.run_get_method, action.mentioned(params), session.fmt)
    messages = action.messages(session.contracts, params, roles)
    expected = action.expected(session.contracts, params, session.fmt)
    already = {k: v for k, v in expected.items() if roles.get(k) == v}
    if already == expected:
        out(f"{args.action}: the contracts already show it ({', '.join(f'{k} = {v}' for k, v in expected.items())}); "
            "no order needed")
        return 0
    wallet = signer_wallet(session, read_key(args))
    out(f"{args.action}: {len(messages)} message(s) from the multisig; expected effect: "
        + ", ".join(f"{k} -> {v}" for k, v in expected.items()))
    if not args.yes and not (confirm or _ask)(f"create this order from {session.fmt(wallet.address)}? [type yes] "):
        out("not created")
        return 1
    created = create_order(session.client, wallet, session.multisig, session.watch(action.mentioned(params)),
                           messages, expected, expires_in=args.expires_in)
    out(("created" if created.created else "already open, not created again:") + f" order #{created.order.seqno}")
    print_order(session, created.order, created.rehearsal or rehearse_view(session, created.order), out)
    out(f"  signers approve with: python -m ops multisig approve --stack {session.stack} {created.order.seqno} "
        "--key-file <file>")
    return 0


def cmd_approve(session: Session, args: argparse.Namespace, out=print, confirm: Confirm | None = None) -> int:
    data = Multisig(session.multisig).get_multisig_data(session.client.run_get_method)
    view = read_order(session.client, session.multisig, data, args.order)
    if view is not None and view.data.threshold is not None:
        print_order(session, view, rehearse_view(session, view), out)
    wallet = signer_wallet(session, read_key(args))
    if not args.yes and not (confirm or _ask)(f"approve order #{args.order} as {session.fmt(wallet.address)}? "
                                              "[type yes] "):
        out("not approved")
        return 1
    after, rehearsal = approve_order(session.client, wallet, session.multisig,
                                     session.watch(_mentioned(view) if view else []), args.order)
    if after.state == "executed":
        out(f"approved: order #{args.order} reached its threshold and was executed")
        for key, (before, now) in rehearsal.changes.items():
            out(f"  {key}: {before} -> {now}")
    else:
        out(f"approved: order #{args.order} has {after.approvals} of {after.data.threshold} approvals")
    return 0


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        print("no terminal to confirm on: pass --yes after reading `show`", file=sys.stderr)
        return False
    return input(question).strip().lower() == "yes"


# ---- arguments -------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="multisig_command", required=True)
    listing = commands.add_parser("list", help="open orders with their approvals so far")
    listing.add_argument("--all", action="store_true", help="executed and expired orders too")
    show = commands.add_parser("show", help="one order decoded, with its effect computed on a private TVM")
    new = commands.add_parser("new", help="an order for one admin action", formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog="actions:\n" + "\n".join(f"  {a.name} {' '.join(p.name.upper() for p in a.params)}"
                                                                  f"\n      {a.help}" for a in ADMIN_ACTIONS.values()))
    new.add_argument("action", choices=sorted(ADMIN_ACTIONS), metavar="ACTION")
    new.add_argument("args", nargs="*", metavar="ARG")
    new.add_argument("--expires-in", type=parse_duration, default=DEFAULT_EXPIRY_SECONDS,
                     help="how long signers have to approve (7d, 12h, 3600; default 7d, at most 30d)")
    approve = commands.add_parser("approve", help="approve an order as a signer")
    for sub in (show, approve):
        sub.add_argument("order", type=int, metavar="ORDER", help="the order's number (seqno), from `list`")
    for sub in (listing, show):
        sub.add_argument("--json", action="store_true")
    for sub in (new, approve):
        key = sub.add_mutually_exclusive_group(required=True)
        key.add_argument("--key-file", help="a file holding the signer's (or proposer's) wallet v4r2 24 words")
        key.add_argument("--key-secret-id", help="an AWS Secrets Manager secret holding the words")
        sub.add_argument("--aws-region", help="the secret's region (default: tonsurance:awsRegion)")
        sub.add_argument("--yes", action="store_true", help="do not ask (you have read `show`)")
    for sub in (listing, show, new, approve):
        sub.add_argument("--stack", required=True, help="the stack's name (local, testnet, mainnet)")


COMMANDS = {"list": cmd_list, "show": cmd_show, "new": cmd_new, "approve": cmd_approve}


def run(args: argparse.Namespace, session: Session | None = None) -> int:
    try:
        session = session or open_session(args.stack)
        if getattr(args, "key_secret_id", None) and not args.aws_region:
            args.aws_region = session.aws_region or os.environ.get("AWS_REGION")
        return COMMANDS[args.multisig_command](session, args)
    except (OrderRefused, KeyError_, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
