"""Deploying the mainnet topology (1 oracle, 1 vault, 6 tokens, 1 router, 256 shards) on a latency-true
localnet (external messages included only at block boundaries, every --block-seconds), two ways.

ours:  `pulumi up` of a throwaway copy of the `local` stack at 256 shards through the real engine
       (Automation API, the e2e harness): the TonDeployment sends every contract in one highload message,
       the contract resources adopt them in parallel. Then the no-op preview and up of that stack.
guide: the deployment guide's way: one external message per contract from a wallet v4, waiting for
       each, the shards in 26 batches of 10, then the 86 registration messages its router needs (3 shards
       per message; our router needs none, so they go to the router as plain messages to count their cost).
also:  the same through the providers' create without the engine (the chain's own cost).
growth: preview, up and no-op times of stacks with 16 and 256 shards (blocks off: the engine's own cost).

Figures are read from the chain afterwards: round trips (blocks in which a message was included, one
after another), chain time to the last deploy, external messages, transactions, fees burned, funding.
Needs the toolchain (scripts/bootstrap) and PostgreSQL, like the e2e tests.

    .venv/bin/python bench/deploy.py [--block-seconds 5] [--skip-guide] [--skip-growth]
    .venv/bin/python bench/deploy.py --smoke     # 16 shards, 1 s blocks, no growth table (what `make test` runs)

The stack copies render their Kubernetes objects to a folder (tonsurance:renderManifestsTo) instead of
applying them to a cluster: the figures are the contracts' and the engine's, and a copy of a checkout has no
cluster of its own (the local stack's kubeconfig path is relative to the checkout that ran `make up`).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytoniq_core import Address, begin_cell  # noqa: E402
from pytoniq_core.crypto.keys import mnemonic_new  # noqa: E402

from chain.client import ChainSettings, MessageTimeout  # noqa: E402
from chain.connect import connect  # noqa: E402
from chain.localnet import next_block  # noqa: E402
from chain.records import TON  # noqa: E402
from chain.sandbox import FAUCET_ADDRESS  # noqa: E402
from chain.wallets import Transfer, WalletKey, WalletV4R2  # noqa: E402
from contracts.policy_router import shard_deployment  # noqa: E402
from ton_deploy.contract import TonContractProvider, contract_inputs  # noqa: E402
from ton_deploy.deployment import TonDeploymentProvider, deployment_inputs  # noqa: E402
from ton_deploy.plan import Deployer, TonsuranceContractsArgs, plan_contracts  # noqa: E402
from ton_deploy.sending import ensure_funds  # noqa: E402
from ton_deploy.shard_batch import ShardBatchProvider, batch_inputs  # noqa: E402
from ton_deploy.targets import target_of  # noqa: E402

MAINNET_SHARDS = 256
SMOKE_SHARDS = 16
GUIDE_SHARDS_PER_REGISTRATION = 3
REGISTRATION_VALUE = TON // 50  # what each registration message carries to the router
DEFAULT_BLOCK_SECONDS = 5       # TON's masterchain/shardchain block interval is a few seconds


@dataclass
class Figures:
    way: str
    round_trips: int        # blocks in which a message of the deployment was included, one after another
    chain_seconds: float    # chain time from the start to the last deploy
    external_messages: int
    transactions: int
    fees_burned: int
    funded: int
    seconds: float          # wall time

    def row(self) -> str:
        return (f"{self.way:<28} {self.round_trips:>6} {self.chain_seconds:>9.0f} {self.external_messages:>8} "
                f"{self.transactions:>6} {self.fees_burned / TON:>10.4f} {self.funded / TON:>10.3f} "
                f"{self.seconds:>8.1f}")


HEADER = (f"{'way':<28} {'trips':>6} {'chain s':>9} {'external':>8} {'txs':>6} {'fees TON':>10} {'funded':>10} "
          f"{'wall s':>8}")


def chain_figures(way: str, chain_file: Path, started_at: int, seconds: float) -> Figures:
    client = connect(ChainSettings("localnet", localnet_path=str(chain_file)))
    accounts = json.loads(chain_file.read_text())["chain"]["transactions"]
    txs = [tx for a in accounts for tx in client.transactions(Address(a), 1000)]
    blocks = {tx.now for tx in txs if tx.in_external}
    return Figures(way, round_trips=len(blocks), chain_seconds=max(tx.now for tx in txs) - started_at,
                   external_messages=sum(tx.in_external for tx in txs), transactions=len(txs),
                   fees_burned=sum(tx.total_fees for tx in txs),
                   funded=sum(tx.in_value for tx in txs if tx.in_sender == FAUCET_ADDRESS), seconds=seconds)


def engine_stack(directory: Path, shard_count: int, block_seconds: int):
    """A throwaway copy of the `local` stack (its own backend, localnet and PostgreSQL) at `shard_count`, its
    Kubernetes objects rendered to the copy's .state/manifests/local."""
    from tests.e2e.harness import stack_copy
    stack = stack_copy(directory)
    stack.stack.remove_config("tonsurance:kubeconfig")
    stack.set_config("tonsurance:renderManifestsTo", ".state/manifests/local")
    stack.set_config("tonsurance:shardCount", str(shard_count))
    stack.start_postgres()
    stack.localnet().set_block_interval(block_seconds)
    return stack


def timed(action) -> float:
    started = time.perf_counter()
    action(on_output=lambda _line: None)
    return time.perf_counter() - started


def ours(directory: Path, shards: int, block_seconds: int) -> tuple[Figures, dict[str, float]]:
    """`pulumi up` of the topology through the real engine; then its no-op preview and up."""
    stack = engine_stack(directory, shards, block_seconds)
    try:
        times = {"preview (new)": timed(stack.stack.preview)}
        started_at = stack.localnet().now()
        seconds = timed(stack.stack.up)
        figures = chain_figures(f"ours, pulumi up, {block_seconds} s blocks", stack.localnet_path, started_at, seconds)
        times["preview (no-op)"] = timed(stack.stack.preview)
        times["up (no-op)"] = timed(stack.stack.up)
        return figures, times
    finally:
        stack.stop_postgres()


def ours_without_engine(directory: Path, shards: int, block_seconds: int) -> Figures:
    """The same plan through the providers' create (the deployment, then every resource adopting), without
    the engine: what the chain costs on its own."""
    plan = plan_contracts(plan_args(directory, " ".join(mnemonic_new()), shards, 64))
    client = connect(ChainSettings("localnet", localnet_path=str(directory / "chain.json")))
    client.set_block_interval(block_seconds)
    started_at, started = client.now(), time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # the providers' progress lines (pulumi.log without an engine)
        TonDeploymentProvider().create(deployment_inputs(plan.deployment))
        for args in (plan.oracle, plan.vault, *plan.tokens.values(), plan.router):
            TonContractProvider().create(contract_inputs(args))
        for batch in plan.batches:
            ShardBatchProvider().create(batch_inputs(batch))
    return chain_figures(f"ours, providers, {block_seconds} s", directory / "chain.json", started_at,
                         time.perf_counter() - started)


def growth(directory: Path, shard_count: int) -> dict[str, float]:
    """Preview and no-op times of a deployed stack with `shard_count` shards (blocks off: only the engine)."""
    stack = engine_stack(directory, shard_count, 0)
    try:
        times = {"preview (new)": timed(stack.stack.preview), "up": timed(stack.stack.up)}
        times["preview (no-op)"] = timed(stack.stack.preview)
        times["up (no-op)"] = timed(stack.stack.up)
        return times
    finally:
        stack.stop_postgres()


def guide(directory: Path, shards: int, block_seconds: int) -> Figures:
    """One message per contract from a wallet v4, each awaited, then the registrations. Its 351 waits would
    take half an hour of real time, so the chain clock is moved to each next block boundary instead of
    slept through: the chain figures are those of real blocks, the wall time is only the computing."""
    plan = plan_contracts(plan_args(directory, "", shards, 64))  # the same contracts; its mnemonic is unused
    client = connect(ChainSettings("localnet", localnet_path=str(directory / "chain.json"), poll_interval_seconds=0.01))
    client.set_block_interval(block_seconds)
    wallet = WalletV4R2(client, WalletKey.from_mnemonic(mnemonic_new()), directory / "journal.json")
    vault = target_of(plan.vault.code, plan.vault.data).address
    router = target_of(plan.router.code, plan.router.data).address
    shard_value = plan.batches[0].deploy_value
    contracts = [(target_of(a.code, a.data), a.deploy_value)
                 for a in (plan.oracle, plan.vault, *plan.tokens.values(), plan.router)]
    contracts += [(shard_deployment(vault, i, shards), shard_value) for i in range(shards)]
    registrations = [list(range(first, min(first + GUIDE_SHARDS_PER_REGISTRATION, shards)))
                     for first in range(0, shards, GUIDE_SHARDS_PER_REGISTRATION)]
    # Funded once, up front, by the same rule the providers apply (values, wallet reserve, forwarding).
    with contextlib.redirect_stderr(io.StringIO()):  # its progress line
        ensure_funds(client, wallet, [Transfer(t.address, v, state_init=t.state_init) for t, v in contracts]
                     + [Transfer(router, REGISTRATION_VALUE)] * len(registrations))

    def send_and_wait_a_block(transfer: Transfer) -> None:
        with contextlib.suppress(MessageTimeout):
            wallet.send([transfer], wait_seconds=0)       # signed, journaled, broadcast: waits for a block
        client.advance_time(next_block(client.now(), block_seconds) - client.now())
        wallet.send([transfer])                           # the same message, now in a block: settled

    started_at, started = client.now(), time.perf_counter()
    # The guide's "Batch n/26: shards 0-9" is a progress line: a wallet v4 message carries at most 4
    # transfers and the guide sends and awaits one deploy at a time, so every shard is its own message.
    for target, value in contracts:
        send_and_wait_a_block(Transfer(target.address, value, state_init=target.state_init))
    for shard_ids in registrations:
        comment = begin_cell().store_uint(0, 32).store_snake_string(f"register shards {shard_ids}").end_cell()
        send_and_wait_a_block(Transfer(router, REGISTRATION_VALUE, body=comment))
    return chain_figures(f"guide, v4 one by one, {block_seconds} s", directory / "chain.json", started_at,
                         time.perf_counter() - started)


def plan_args(directory: Path, mnemonic: str, shards: int, batch_size: int) -> TonsuranceContractsArgs:
    chain = ChainSettings("localnet", localnet_path=str(directory / "chain.json"))
    return TonsuranceContractsArgs(
        admin_address="0:" + "a1" * 32, keeper_addresses=("0:" + "b1" * 32, "0:" + "b2" * 32),
        treasury_address="0:" + "c1" * 32, claims_processor_address="0:" + "d1" * 32, shard_count=shards,
        shard_batch_size=batch_size, deployer=Deployer(chain, mnemonic, str(directory / "journal.json")))


@contextlib.contextmanager
def project_dir() -> Iterator[Path]:
    """A folder the `postgres` user can traverse (as the e2e tests use), removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="tonsurance-bench-"))
    base.chmod(0o755)
    try:
        yield base / "project"
    finally:
        shutil.rmtree(base, ignore_errors=True)


# What the guide says each step costs on mainnet (its "Estimated Time" lines), beside our figures.
GUIDE_CONTRACTS_MINUTES = 45   # "Step 2: Deploy Smart Contracts ... Estimated Time: 45 minutes"


def summary(ours_up: Figures, times: dict[str, float], guide_way: Figures | None, shards: int,
            block_seconds: int) -> list[str]:
    """Each figure of ours with the guide's way beside it."""
    guide_up = (f"{guide_way.chain_seconds:.0f} s of chain time ({guide_way.round_trips} round trips)"
                if guide_way else "not run (--skip-guide)")
    no_preview = "none: its scripts have no preview"
    rows = [
        (f"deploy {shards + 9} contracts, {block_seconds} s blocks",
         f"{ours_up.seconds:.1f} s wall, {ours_up.round_trips} round trip(s)",
         f"{guide_up}; the guide estimates {GUIDE_CONTRACTS_MINUTES} min"),
        ("preview of the new stack", f"{times['preview (new)']:.1f} s", no_preview),
        ("no-op preview", f"{times['preview (no-op)']:.1f} s", no_preview),
        ("no-op up", f"{times['up (no-op)']:.1f} s", "a re-run of its scripts deploys every contract again"),
    ]
    width = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    lines = [f"{'figure':<{width[0]}}  {'ours (pulumi, wall)':<{width[1]}}  the guide's way"]
    lines += [f"{a:<{width[0]}}  {b:<{width[1]}}  {c}" for a, b, c in rows]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--block-seconds", type=int, default=DEFAULT_BLOCK_SECONDS)
    parser.add_argument("--skip-guide", action="store_true")
    parser.add_argument("--skip-growth", action="store_true")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SHARDS} shards, 1 s blocks, no growth table")
    options = parser.parse_args()
    shards, block_seconds = (SMOKE_SHARDS, 1) if options.smoke else (MAINNET_SHARDS, options.block_seconds)

    print(HEADER)
    with tempfile.TemporaryDirectory() as directory:
        print(ours_without_engine(Path(directory), shards, block_seconds).row(), flush=True)
    with project_dir() as directory:
        figures, times = ours(directory, shards, block_seconds)
    print(figures.row(), flush=True)
    guide_way = None
    if not options.skip_guide:
        with tempfile.TemporaryDirectory() as directory:
            guide_way = guide(Path(directory), shards, block_seconds)
        print(guide_way.row(), flush=True)
    print("\n" + "\n".join(summary(figures, times, guide_way, shards, block_seconds)), flush=True)
    if not (options.skip_growth or options.smoke):
        print(f"\n{'shards':>6} {'preview new':>12} {'up':>8} {'preview no-op':>14} {'up no-op':>9}   (wall s, blocks off)")
        for count in (16, 256):
            with project_dir() as directory:
                t = growth(directory, count)
            print(f"{count:>6} {t['preview (new)']:>12.1f} {t['up']:>8.1f} {t['preview (no-op)']:>14.1f} "
                  f"{t['up (no-op)']:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
