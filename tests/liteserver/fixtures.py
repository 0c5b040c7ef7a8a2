"""Fixtures for tests that talk to liteservers: a Sandbox chain, the fake network over it, liteservers on
127.0.0.1 and the settings of a client that trusts the network's first key block.

Import them into a test module: `from tests.liteserver.fixtures import chain, network, liteservers,
liteserver_settings  # noqa: F401`.
"""
from __future__ import annotations

import dataclasses
import time

import pytest

from chain.client import ChainSettings
from chain.sandbox import Sandbox
from chain.trust import block_ref
from tests.liteserver.network import FakeTonNetwork
from tests.liteserver.server import LiteserverFarm


@pytest.fixture
def chain() -> Sandbox:
    return Sandbox(now=int(time.time()))


@pytest.fixture
def network(chain) -> FakeTonNetwork:
    return FakeTonNetwork(chain)


@pytest.fixture
def liteservers(network):
    farm = LiteserverFarm(network, 2)
    yield farm
    farm.stop()


def settings_for(network: FakeTonNetwork, config_path: str, **changes) -> ChainSettings:
    settings = ChainSettings("testnet", liteserver_config_path=config_path,
                             trusted_key_block=block_ref(network.first_key_block), request_timeout_seconds=10.0,
                             retries=2, retry_backoff_seconds=0.01, poll_interval_seconds=0.01)
    return dataclasses.replace(settings, **changes)


@pytest.fixture
def liteserver_settings(network, liteservers, tmp_path) -> ChainSettings:
    return settings_for(network, liteservers.config_file(tmp_path))
