"""Localnet benchmark: prints transactions per second and the time to deploy 256 contracts in one
highload wallet v3 external message. Figures only; nothing here passes or fails on time.

    .venv/bin/python bench/localnet.py [--contracts 256] [--transactions 2000] [--smoke]   # --smoke: 16, 100
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytoniq_core import Address, begin_cell  # noqa: E402

from chain.client import ChainSettings  # noqa: E402
from chain.connect import connect  # noqa: E402
from chain.sandbox import Sandbox  # noqa: E402
from chain.wallets import HighloadWalletV3, WalletKey  # noqa: E402
from tests.chain.conftest import TON, address_of, counter_state_init, deploy_transfers  # noqa: E402

USER = Address("0:" + "11" * 32)


def in_memory_tps(transactions: int) -> float:
    """Internal messages executed by the TVM against one contract (no file I/O)."""
    chain = Sandbox()
    chain.fund(USER, 10**6 * TON)
    state_init = counter_state_init(1)
    contract = address_of(state_init)
    chain.send_internal(sender=USER, to=contract, value=TON, state_init=state_init)
    increment = begin_cell().store_uint(1, 32).store_uint(0, 64).end_cell()
    started = time.perf_counter()
    for _ in range(transactions):
        chain.send_internal(sender=USER, to=contract, value=TON // 100, body=increment)
    elapsed = time.perf_counter() - started
    assert chain.run_get_method(contract, "get_state")[1] == transactions
    return transactions / elapsed


def file_backed_ops(directory: Path, operations: int) -> float:
    """Faucet transactions through the localnet file (lock, read, execute, atomic write) per second."""
    client = connect(ChainSettings("localnet", localnet_path=str(directory / "ops.json")))
    started = time.perf_counter()
    for _ in range(operations):
        client.fund(USER, TON)
    return operations / (time.perf_counter() - started)


def highload_deploy(directory: Path, contracts: int) -> tuple[float, int]:
    client = connect(ChainSettings("localnet", localnet_path=str(directory / "deploy.json"),
                                   poll_interval_seconds=0.01))
    wallet = HighloadWalletV3(client, WalletKey.from_seed(b"\x42" * 32), directory / "journal.json")
    client.fund(wallet.address, 10_000 * TON)
    transfers = deploy_transfers(10_000, contracts)
    started = time.perf_counter()
    result = wallet.send(transfers)
    elapsed = time.perf_counter() - started
    active = sum(client.account(t.destination).status == "active" for t in transfers)
    assert active == contracts == result.transfers_sent
    # one external message -> wallet, self links, one transaction per contract
    return elapsed, len(client.transactions(wallet.address, 100)) + active


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=256)
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="16 contracts, 100 transactions")
    args = parser.parse_args()
    if args.smoke:
        args.contracts, args.transactions = 16, 100
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        tps = in_memory_tps(args.transactions)
        ops = file_backed_ops(directory, 200)
        seconds, txs = highload_deploy(directory, args.contracts)
    print(f"in-memory TVM:       {tps:8.0f} transactions/s ({args.transactions} internal messages to one contract)")
    print(f"file-backed localnet:{ops:8.0f} sends/s (faucet transfers incl. lock + atomic file rewrite)")
    print(f"highload deploy:     {seconds:8.2f} s for {args.contracts} contracts in one external message "
          f"({txs} transactions, {txs / seconds:.0f} tx/s end to end incl. journal and file)")


if __name__ == "__main__":
    main()
