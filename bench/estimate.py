"""How long preflight's cost estimate takes, and what it says, for a fresh deploy and for the no-op update.

The estimate (ops/estimate.py) runs every missing contract and shard deploy through the providers' create
on a private localnet; this prints its figures for the local (16 shards) and mainnet (256 shards) shapes.

    .venv/bin/python bench/estimate.py [--shards 16,256] [--smoke]     # --smoke: 16 shards only
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytoniq_core.crypto.keys import mnemonic_new  # noqa: E402

from chain.client import ChainSettings  # noqa: E402
from contracts.base import TON  # noqa: E402
from ops.estimate import estimate_update  # noqa: E402
from ton_deploy.plan import Deployer, TonsuranceContractsArgs  # noqa: E402


def measure(shards: int, chain: Path) -> tuple[float, object]:
    localnet = ChainSettings("localnet", localnet_path=str(chain))
    deployer = Deployer(localnet, MNEMONIC, str(chain.parent / "journal.json"))
    args = TonsuranceContractsArgs(
        admin_address="0:" + "a1" * 32, keeper_addresses=("0:" + "b1" * 32,), treasury_address="0:" + "c1" * 32,
        claims_processor_address="0:" + "d1" * 32, shard_count=shards, shard_batch_size=64, deployer=deployer)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        estimate = estimate_update(args, MNEMONIC)
    return time.perf_counter() - start, estimate


MNEMONIC = " ".join(mnemonic_new(24))

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--shards", default="16,256")
    parser.add_argument("--smoke", action="store_true", help="16 shards only")
    options = parser.parse_args()
    for count in (int(s) for s in ("16" if options.smoke else options.shards).split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, e = measure(count, Path(tmp) / "absent-chain.json")
        print(f"{count:3d} shards, fresh deploy: {e.contracts} contracts + {e.shards} shards, cost "
              f"{e.cost / TON:.4f} TON (values {e.values / TON:.4f}, fees {e.fees / TON:.4f}), estimated in "
              f"{seconds:.1f} s")
