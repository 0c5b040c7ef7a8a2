"""What proving liteserver answers costs (chain/proofs.py, chain/liteserver.py). Figures only.

Against the fake network of tests/liteserver/ (real blocks, Merkle proofs and ed25519 signatures; a validator
set the size of mainnet's by default: 400 validators in config param 34, the first 100 signing masterchain
blocks) and two liteservers on 127.0.0.1 speaking ADNL:

- a forward link from a key block whose validators are not yet known (parse its config proof, check the
  signatures): what walking from the pinned key block costs per key block since the pin;
- a forward link to a new head from a known key block (validators cached): what each new head costs;
- an account proof (present and absent) and a 16-transaction hash chain;
- a proven account read through the client end to end (2 liteservers asked for their head, 1 for the state),
  and the bytes the liteservers sent per read.

    .venv/bin/python bench/liteserver.py [--validators 400 --main 100 --key-blocks 20 --reads 100] [--smoke]
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytoniq_core import Address  # noqa: E402

from chain import proofs  # noqa: E402
from chain.liteserver import LiteserverClient  # noqa: E402
from chain.records import TON  # noqa: E402
from chain.sandbox import Sandbox  # noqa: E402
from tests.liteserver.fixtures import settings_for  # noqa: E402
from tests.liteserver.network import FakeTonNetwork  # noqa: E402
from tests.liteserver.server import LiteserverFarm  # noqa: E402

USER = Address("0:" + "11" * 32)


def timed(action, repeat: int) -> float:
    """Median seconds of `action()`."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, default=400, help="validators in config param 34")
    parser.add_argument("--main", type=int, default=100, help="masterchain validators (they sign)")
    parser.add_argument("--key-blocks", type=int, default=20, help="key blocks walked from the pin")
    parser.add_argument("--reads", type=int, default=100, help="proven account reads through the client")
    parser.add_argument("--smoke", action="store_true", help="small sizes (the test suite runs this)")
    args = parser.parse_args()
    if args.smoke:
        args.validators, args.main, args.key_blocks, args.reads = 12, 7, 2, 5
    logging.disable(logging.WARNING)

    chain = Sandbox(now=int(time.time()))
    network = FakeTonNetwork(chain, validators=args.validators, main=args.main)
    chain.fund(USER, TON)
    for i in range(args.key_blocks):
        network.rotate_validators(args.validators, seed=10 + i)
        chain.fund(USER, TON // 100)
    head = network.head()
    links = network.block_proof(network.first_key_block, head.block)["steps"]
    config_bytes = statistics.mean(len(link["config_proof"]) for link in links)

    def walk() -> None:
        known, current = {}, network.first_key_block
        for link in links:
            current = proofs.verify_forward_link(current, link, known, "bench").block

    per_key_block = timed(walk, 3) / len(links)
    warm_known: dict = {}
    newest_key = next(b for b in reversed(network.blocks) if b.key_block)
    head_link = network.forward_link(newest_key, head)
    proofs.verify_forward_link(newest_key.block, head_link, warm_known, "bench")
    per_head = timed(lambda: proofs.verify_forward_link(newest_key.block, head_link, warm_known, "bench"), 20)

    present = network.account_state(head, USER)
    absent_address = Address("0:" + "00" * 32)
    absent = network.account_state(head, absent_address)
    present_s = timed(lambda: proofs.prove_account(head.block, USER, present, "bench"), 50)
    absent_s = timed(lambda: proofs.prove_account(head.block, absent_address, absent, "bench"), 50)
    info = chain.account(USER)
    history = network.transactions(USER, 16, info.last_tx_lt, bytes.fromhex(info.last_tx_hash))
    chain_s = timed(lambda: proofs.prove_transactions(history, info.last_tx_lt, bytes.fromhex(info.last_tx_hash),
                                                      "bench"), 20)

    farm = LiteserverFarm(network, 2)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(network, farm.config_file(Path(tmp)), request_timeout_seconds=60.0)
            with LiteserverClient(settings) as client:
                started = time.perf_counter()
                client.account(USER)                          # connects, walks every key block, proves the head
                first = time.perf_counter() - started
                sent_before = sum(s.bytes_sent for s in farm.servers)
                requests_before = sum(len(s.requests) for s in farm.servers)
                reads = []
                for _ in range(args.reads):
                    chain.fund(USER, 1)                       # a new head per read: the worst case
                    started = time.perf_counter()
                    client.account(USER)
                    reads.append(time.perf_counter() - started)
                per_read_bytes = (sum(s.bytes_sent for s in farm.servers) - sent_before) / args.reads
                per_read_requests = (sum(len(s.requests) for s in farm.servers) - requests_before) / args.reads
    finally:
        farm.stop()

    print(f"validator set: {args.validators} in param 34, {args.main} sign masterchain blocks; "
          f"{len(links)} forward links from the pin")
    print(f"forward link from an unknown key block: {per_key_block * 1000:8.2f} ms  "
          f"(config proof {config_bytes / 1024:.1f} KiB)")
    print(f"forward link to a new head (known key): {per_head * 1000:8.2f} ms")
    print(f"account proof, present / absent:        {present_s * 1000:8.2f} / {absent_s * 1000:.2f} ms")
    print(f"16-transaction hash chain:               {chain_s * 1000:8.2f} ms")
    print(f"client, first read (connect + walk):     {first * 1000:8.1f} ms")
    print(f"client, read with a new head each time:  {statistics.median(reads) * 1000:8.1f} ms median, "
          f"{per_read_requests:.1f} requests, {per_read_bytes / 1024:.1f} KiB from the liteservers")
    print(f"walking 1000 key blocks from a pin (proof checks only): {per_key_block * 1000:.1f} s")


if __name__ == "__main__":
    main()
