"""Operator CLI: `python -m chain account|get|transactions|fund|faults ...` (JSON on stdout).

Localnet by default (the chain file .state/localnet/local.json); `--network testnet --config FILE`
for liteservers. Examples:
    python -m chain fund 0:ab..cd 10            # localnet faucet: 10 TON
    python -m chain account 0:ab..cd
    python -m chain get 0:ab..cd get_state
    python -m chain faults --drop-external 1    # localnet fault injection for the next send
    python -m chain blocks 5                    # localnet: include external messages every 5 s (0: at once)
    python -m chain --network mainnet --config global-config.json trust   # prove key blocks from the pin
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
from dataclasses import asdict
from decimal import Decimal

from pytoniq_core import Address, Cell, Slice

from chain.client import NETWORKS, ChainError, ChainSettings
from chain.connect import connect
from chain.localnet import DEFAULT_PATH, LocalnetClient
from chain.records import TON, raw_address
from chain.trust import PINNED_KEY_BLOCKS, block_ref, parse_block_ref, trusted_key_block


def _json_value(value):
    if isinstance(value, (Cell, Slice)):
        cell = value if isinstance(value, Cell) else value.to_cell()
        return {"cell_boc_hex": cell.to_boc().hex(), "hash": cell.hash.hex()}
    if isinstance(value, Address):
        return raw_address(value)
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chain", description="Inspect and fund TON accounts.")
    parser.add_argument("--network", default="localnet", choices=NETWORKS)
    parser.add_argument("--localnet-path", default=DEFAULT_PATH, help="localnet chain file")
    parser.add_argument("--config", help="global network config JSON (testnet/mainnet)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("account", help="status, balance, code/data hashes, last transaction").add_argument("address")
    get = commands.add_parser("get", help="run a get-method (integer arguments)")
    get.add_argument("address")
    get.add_argument("method")
    get.add_argument("args", nargs="*", type=int)
    txs = commands.add_parser("transactions", help="recent transactions, newest first")
    txs.add_argument("address")
    txs.add_argument("--limit", type=int, default=10)
    fund = commands.add_parser("fund", help="localnet faucet")
    fund.add_argument("address")
    fund.add_argument("ton", type=Decimal, help="amount in TON")
    faults = commands.add_parser("faults", help="show or set localnet fault injection")
    for name in ("drop-external", "fail-send", "fail-after-send"):
        faults.add_argument(f"--{name}", type=int)
    faults.add_argument("--delay-seconds", type=float)
    blocks = commands.add_parser("blocks", help="show or set the localnet block interval (seconds, 0 = off)")
    blocks.add_argument("seconds", type=int, nargs="?")
    trust = commands.add_parser("trust", help="testnet/mainnet: prove the newest key block from the pinned one")
    trust.add_argument("--candidate", help="seqno:root_hash:file_hash of a key block to check, e.g. the init_block "
                                           "of the network's newest global config")
    trust.add_argument("--from-block", help="start from this key block instead of the pin (tests; a bump starts "
                                            "from the pin)")
    return parser


def run(argv: list[str]) -> object:
    args = _parser().parse_args(argv)
    settings = ChainSettings(args.network, localnet_path=args.localnet_path if args.network == "localnet" else None,
                             liteserver_config_path=args.config,
                             trusted_key_block=getattr(args, "from_block", None))
    with connect(settings) as client:
        if args.command == "trust":
            return _trust(client, args)
        if args.command in ("fund", "faults", "blocks") and not isinstance(client, LocalnetClient):
            raise ChainError(f"`{args.command}` exists on localnet only")
        if args.command == "account":
            info = client.account(Address(args.address))
            return {k: v for k, v in asdict(info).items() if k not in ("code", "data")}
        if args.command == "get":
            return _json_value(client.run_get_method(Address(args.address), args.method, args.args))
        if args.command == "transactions":
            return [{"lt": t.lt, "hash": t.hash, "success": t.success, "exit_code": t.exit_code,
                     "external": t.in_external, "from": _json_value(t.in_sender), "value": t.in_value,
                     "out_messages": len(t.out_messages), "fees": t.total_fees}
                    for t in client.transactions(Address(args.address), args.limit)]
        if args.command == "fund":
            info = client.fund(Address(args.address), int(args.ton * TON))
            return {"address": args.address, "status": info.status, "balance": info.balance}
        if args.command == "blocks":
            interval = client.block_interval() if args.seconds is None else client.set_block_interval(args.seconds)
            return {"block_interval": interval}
        changes = {k: v for k, v in vars(args).items()
                   if k in ("drop_external", "fail_send", "fail_after_send", "delay_seconds") and v is not None}
        return asdict(client.set_faults(**changes) if changes else client.faults())


def _trust(client, args) -> dict:
    """Key blocks proven from the anchor, the candidate's verdict, and the pin a bump would write."""
    if args.network == "localnet":
        raise ChainError("`trust` is for testnet and mainnet: localnet has no validators")
    anchor = trusted_key_block(args.network, args.from_block)
    proven = client.proven_key_blocks()
    newest = proven[-1]
    answer = {"anchor": block_ref(anchor), "proven_key_blocks": len(proven) - 1, "newest_key_block": block_ref(newest),
              "pinned_source": PINNED_KEY_BLOCKS[args.network].source if args.network in PINNED_KEY_BLOCKS else None}
    if args.candidate:
        candidate = parse_block_ref(args.candidate)
        if candidate not in proven:
            raise ChainError(f"candidate {args.candidate} is not a key block proven from {block_ref(anchor)}: "
                             "do not pin it")
        newest = candidate
        answer["candidate"] = "proven"
    answer["pin"] = {"seqno": newest.seqno, "root_hash": base64.b64encode(newest.root_hash).decode(),
                     "file_hash": base64.b64encode(newest.file_hash).decode()}
    return answer


def main(argv: list[str] | None = None) -> int:
    try:
        print(json.dumps(run(sys.argv[1:] if argv is None else argv), indent=2))
    except (ChainError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
