"""Deploying the mainnet topology (1 oracle, 1 vault, 6 tokens, 1 router, 256 shards) on localnet, two ways.

ours:  the plan of components/contracts.py executed through the TonContract and ShardBatch providers
       (create, in dependency order; the engine's own overhead is not included): nine wallet v4r2
       messages and one highload v3 message per shard batch, every deploy computed on a private TVM first.
guide: the deployment guide's way: one external message per contract from a wallet v4, waiting for
       each, the shards in 26 batches of 10, then the 86 registration messages its router needs (3 shards
       per message; our router needs none, so they go to the router as plain messages to count their cost).

Both deploy the same contracts with the same deploy values on a fresh localnet each, and the figures
are read from the chain afterwards: external messages, transactions, fees burned, faucet funding.

    .venv/bin/python bench/deploy.py [--batch-sizes 16,64] [--skip-guide]     (--batch-sizes "": guide only)
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytoniq_core import Address, begin_cell  # noqa: E402
from pytoniq_core.crypto.keys import mnemonic_new  # noqa: E402

from chain.client import ChainSettings, connect  # noqa: E402
from chain.sandbox import FAUCET_ADDRESS  # noqa: E402
from chain.wallets import Transfer, WalletKey, WalletV4R2  # noqa: E402
from components.contracts import TonsuranceContractsArgs, plan_contracts  # noqa: E402
from contracts.policy_router import shard_deployment  # noqa: E402
from dynamic_providers.shard_batch import ShardBatchProvider, batch_inputs  # noqa: E402
from dynamic_providers.ton_contract import TonContractProvider, contract_inputs  # noqa: E402
from dynamic_providers.ton_deploy import TON, ensure_funds, target_of  # noqa: E402

SHARD_COUNT = 256
GUIDE_SHARDS_PER_REGISTRATION = 3
REGISTRATION_VALUE = TON // 50  # what each registration message carries to the router


@dataclass
class Figures:
    way: str
    external_messages: int
    transactions: int
    fees_burned: int
    funded: int
    seconds: float

    def row(self) -> str:
        return (f"{self.way:<22} {self.external_messages:>8} {self.transactions:>8} "
                f"{self.fees_burned / TON:>12.4f} {self.funded / TON:>12.3f} {self.seconds:>9.1f}")


def plan_args(directory: Path, mnemonic: str, batch_size: int) -> TonsuranceContractsArgs:
    return TonsuranceContractsArgs(
        network="localnet", admin_address="0:" + "a1" * 32, keeper_addresses=("0:" + "b1" * 32, "0:" + "b2" * 32),
        treasury_address="0:" + "c1" * 32, claims_processor_address="0:" + "d1" * 32, shard_count=SHARD_COUNT,
        shard_batch_size=batch_size, deployer_mnemonic=mnemonic, journal_path=str(directory / "journal.json"),
        localnet_path=str(directory / "chain.json"))


def chain_figures(way: str, chain_file: Path, seconds: float) -> Figures:
    client = connect(ChainSettings("localnet", localnet_path=str(chain_file)))
    accounts = json.loads(chain_file.read_text())["chain"]["transactions"]
    txs = [tx for a in accounts for tx in client.transactions(Address(a), 1000)]
    return Figures(way, external_messages=sum(tx.in_external for tx in txs), transactions=len(txs),
                   fees_burned=sum(tx.total_fees for tx in txs),
                   funded=sum(tx.in_value for tx in txs if tx.in_sender == FAUCET_ADDRESS), seconds=seconds)


def ours(directory: Path, batch_size: int) -> Figures:
    plan = plan_contracts(plan_args(directory, " ".join(mnemonic_new()), batch_size))
    contracts, batches = TonContractProvider(), ShardBatchProvider()
    started = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # the providers' progress lines (pulumi.log without an engine)
        for args in (plan.oracle, plan.vault, *plan.tokens.values(), plan.router):
            contracts.create(contract_inputs(args))
        for batch in plan.batches:
            batches.create(batch_inputs(batch))
    return chain_figures(f"ours, batches of {batch_size}", directory / "chain.json", time.perf_counter() - started)


def guide(directory: Path) -> Figures:
    plan = plan_contracts(plan_args(directory, "", SHARD_COUNT))  # the same contracts; its mnemonic is unused
    client = connect(ChainSettings("localnet", localnet_path=str(directory / "chain.json")))
    wallet = WalletV4R2(client, WalletKey.from_mnemonic(mnemonic_new()), directory / "journal.json")
    vault = target_of(plan.vault.code, plan.vault.data).address
    shard_value = plan.batches[0].deploy_value
    contracts = [(target_of(a.code, a.data), a.deploy_value)
                 for a in (plan.oracle, plan.vault, *plan.tokens.values(), plan.router)]
    contracts += [(shard_deployment(vault, i, SHARD_COUNT), shard_value) for i in range(SHARD_COUNT)]
    registrations = [list(range(first, min(first + GUIDE_SHARDS_PER_REGISTRATION, SHARD_COUNT)))
                     for first in range(0, SHARD_COUNT, GUIDE_SHARDS_PER_REGISTRATION)]
    # Funded once, up front, by the same rule the providers apply (values, wallet reserve, forwarding).
    with contextlib.redirect_stderr(io.StringIO()):  # its progress line
        ensure_funds(client, wallet, [Transfer(t.address, v, state_init=t.state_init) for t, v in contracts]
                     + [Transfer(router, REGISTRATION_VALUE)] * len(registrations))

    started = time.perf_counter()
    # The guide's "Batch n/26: shards 0-9" is a progress line: a wallet v4 message carries at most 4
    # transfers and the guide sends and awaits one deploy at a time, so every shard is its own message.
    for target, value in contracts:
        wallet.send([Transfer(target.address, value, state_init=target.state_init)])
        client.wait_for_active([target.address], 60)
    for shard_ids in registrations:
        comment = begin_cell().store_uint(0, 32).store_snake_string(f"register shards {shard_ids}").end_cell()
        wallet.send([Transfer(router, REGISTRATION_VALUE, body=comment)])
    return chain_figures("guide (v4, one by one)", directory / "chain.json", time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", default="16,32,64,128,256")
    parser.add_argument("--skip-guide", action="store_true")
    options = parser.parse_args()

    print(f"{'way':<22} {'external':>8} {'txs':>8} {'fees (TON)':>12} {'funded (TON)':>12} {'wall (s)':>9}")
    for size in (int(s) for s in options.batch_sizes.split(",") if s):
        with tempfile.TemporaryDirectory() as directory:
            print(ours(Path(directory), size).row(), flush=True)
    if not options.skip_guide:
        with tempfile.TemporaryDirectory() as directory:
            print(guide(Path(directory)).row(), flush=True)


if __name__ == "__main__":
    main()
