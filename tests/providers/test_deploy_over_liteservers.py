"""The deployment provider on testnet through liteservers on 127.0.0.1 (tests/liteserver/) that answer with
real proofs: the whole plan deploys once; a runner without the journal that asks a pair of liteservers which
lag, or which lie alike about the contracts, never deploys a second time, and a lie stops it with an error
naming the liteserver and what did not verify."""
from __future__ import annotations

import pytest
from pytoniq_core import Address

from chain.errors import UnprovenAnswer
from chain.records import TON
from chain.wallets import HighloadWalletV3, WalletKey
from tests.liteserver.fixtures import chain, liteserver_settings, liteservers, network  # noqa: F401
from tests.providers.conftest import deployment, plan
from ton_deploy.deployment import TonDeploymentProvider

provider = TonDeploymentProvider()


def deploys(chain, address: str) -> int:
    """How many times a contract was deployed: transactions that found it not yet existing."""
    return sum(1 for tx in chain.transactions(Address(address), 100) if tx.prev_lt == 0)


@pytest.fixture
def deployed(chain, liteserver_settings, mnemonic, tmp_path):
    """The plan deployed over honest liteservers by a first runner (its journal in its own checkout)."""
    contracts = plan(liteserver_settings, mnemonic, str(tmp_path / "runner-1" / "journal.json"))
    highload = HighloadWalletV3(None, WalletKey.from_mnemonic(mnemonic), "/dev/null").address
    chain.fund(highload, 20 * TON)
    created = provider.create(deployment(contracts, wait_seconds=30))
    assert len(created.outs["deployed"]) == 25
    return contracts, highload


def externals(chain, address) -> int:
    return sum(1 for tx in chain.transactions(address, 100) if tx.in_external)


def second_runner(contracts, tmp_path) -> dict:
    """The deployment's inputs as another runner has them: same plan, a journal that knows nothing."""
    return deployment(contracts, wait_seconds=5, journal_path=str(tmp_path / "runner-2" / "journal.json"))


def test_a_runner_asking_a_lagging_liteserver_adopts_instead_of_deploying_again(chain, network, liteservers,
                                                                               deployed, tmp_path):
    contracts, highload = deployed
    before = network.blocks[0].block.seqno    # the trusted key block: before anything was deployed
    liteservers.servers[0].behaviour.lag_at = before
    again = provider.create(second_runner(contracts, tmp_path))
    assert again.outs["deployed"] == [] and len(again.outs["adopted"]) == 25
    assert externals(chain, highload) == 1


@pytest.mark.parametrize("lie, check", [
    ("hide", r"the proof shows 0:\w+ present, but no state was sent"),
    ("other_shard", r"state from shard block .*, but the shard holding 0:\w+ is at"),
])
def test_a_lying_pair_cannot_make_a_runner_deploy_again(chain, liteservers, deployed, tmp_path, lie, check):
    contracts, highload = deployed
    props = second_runner(contracts, tmp_path)
    for server in liteservers.servers:   # both liteservers say the contracts are not there, and agree
        getattr(server.behaviour, lie).update(item["address"] for item in props["contracts"].values())
    with pytest.raises(UnprovenAnswer, match=rf"liteserver 127\.0\.0\.1:\d+: account 0:\w+: {check}"):
        provider.create(props)
    assert externals(chain, highload) == 1
    assert all(deploys(chain, item["address"]) == 1 for item in props["contracts"].values())
