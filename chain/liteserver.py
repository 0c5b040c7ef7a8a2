"""Testnet / mainnet through liteservers: pytoniq's LiteBalancer behind the synchronous ChainClient interface.

The network config is a file whose path comes from stack config; it is read and checked (its zero state
must be the one of the requested network) when the client is built, and never downloaded. The balancer
and its private event loop are created on the first request, so building a client opens nothing.
Every request has a timeout and is retried on transient errors (timeouts, lost connections, no alive
peer, liteserver "not ready"); definite answers (a getter's exit code, a refused message) are not retried.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from pytoniq import LiteBalancer
from pytoniq.liteclient.balancer import BalancerError
from pytoniq.liteclient.client import LiteServerError, RunGetMethodError
from pytoniq_core import Address, Cell

from chain.client import ChainClient, ChainSettings, ConfigError, MessageRejected, NetworkError
from chain.sandbox import AccountInfo, GetMethodError, TxRecord, account_info, parse_transaction

log = logging.getLogger(__name__)
T = TypeVar("T")

# Zero state (masterchain block 0) root hashes: what tells one TON network from another.
ZERO_STATE_ROOT_HASHES = {
    "mainnet": "F6OpKZKqvqeFp6CQmFomXNMfMj2EnaUSOXN+Mh+wVWk=",
    "testnet": "gj+B8wb/AmlPk1z1AhVI484rhrUpgSr2oSFIh56VoSg=",
}
TRANSIENT_LITESERVER_CODES = {651, 652, -400, -503}   # block not ready / not in db / temporarily unavailable
STARTUP_TIMEOUT_FACTOR = 3   # connecting to the liteservers may take a few request timeouts

BalancerFactory = Callable[[dict, float], Any]


def load_network_config(path: str, network: str) -> dict:
    """Read a global network config file and check it is for `network`."""
    file = Path(path)
    try:
        config = json.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{network} network config file {file} does not exist") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{network} network config file {file} is not readable JSON: {error}") from None
    if not isinstance(config, dict) or not config.get("liteservers"):
        raise ConfigError(f"{file} lists no liteservers: not a TON global network config")
    try:
        zero_state = config["validator"]["zero_state"]["root_hash"]
    except (KeyError, TypeError):
        raise ConfigError(f"{file} has no validator.zero_state.root_hash: not a TON global network config") from None
    actual = next((name for name, root in ZERO_STATE_ROOT_HASHES.items() if root == zero_state), "an unknown network")
    if actual != network:
        raise ConfigError(f"{file} is the config of {actual}, but the stack asks for {network}")
    return config


def _pytoniq_balancer(config: dict, timeout_seconds: float) -> LiteBalancer:
    return LiteBalancer.from_config(config, trust_level=2, timeout=max(1, int(timeout_seconds)))


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, (asyncio.TimeoutError, ConnectionError, OSError, BalancerError)):
        return True
    if isinstance(error, LiteServerError):
        return error.code in TRANSIENT_LITESERVER_CODES or "timeout" in str(error.message).lower()
    return False


class LiteserverClient(ChainClient):
    def __init__(self, settings: ChainSettings, balancer_factory: BalancerFactory = _pytoniq_balancer):
        super().__init__(settings)
        self._config = load_network_config(settings.liteserver_config_path, settings.network)
        self._balancer_factory = balancer_factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._balancer: Any = None

    def _request(self, what: str, operation: Callable[[Any], Awaitable[T]]) -> T:
        attempts = self.settings.retries + 1
        loop = self._event_loop()
        for attempt in range(1, attempts + 1):
            try:
                balancer = loop.run_until_complete(self._started_balancer())
                return loop.run_until_complete(
                    asyncio.wait_for(operation(balancer), self.settings.request_timeout_seconds))
            except Exception as error:  # noqa: BLE001 - classified right below
                if not _is_transient(error):
                    raise
                last = error
                log.warning("%s on %s: attempt %d/%d failed (%s)", what, self.network, attempt, attempts,
                            type(error).__name__)
                if attempt < attempts:
                    # sleep inside the loop so pytoniq's peer checker can reconnect meanwhile
                    loop.run_until_complete(asyncio.sleep(self.settings.retry_backoff_seconds * attempt))
        raise NetworkError(f"{what} on {self.network} failed after {attempts} attempt(s) "
                           f"(timeout {self.settings.request_timeout_seconds}s each): "
                           f"{type(last).__name__}: {last}") from None

    async def _started_balancer(self) -> Any:
        if self._balancer is None:
            balancer = self._balancer_factory(self._config, self.settings.request_timeout_seconds)
            try:
                timeout = STARTUP_TIMEOUT_FACTOR * self.settings.request_timeout_seconds
                await asyncio.wait_for(balancer.start_up(), timeout)
            except BaseException:
                with contextlib.suppress(Exception):
                    await balancer.close_all()
                raise
            self._balancer = balancer
        return self._balancer

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop

    def close(self) -> None:
        if self._loop is None:
            return
        if self._balancer is not None:
            try:
                self._loop.run_until_complete(self._balancer.close_all())
            except Exception as error:  # noqa: BLE001 - closing is best effort
                log.warning("closing liteserver connections: %s", error)
        self._loop.close()
        self._loop, self._balancer = None, None

    # ---- ChainClient ---------------------------------------------------------------------------------
    def account(self, address: Address) -> AccountInfo:
        _, shard_account = self._request("account state", lambda b: b.raw_get_account_state(address))
        if shard_account is None:
            return AccountInfo("nonexist", 0, None, None, None, None, 0, None)
        return account_info(shard_account.cell)

    def run_get_method(self, address: Address, method: str | int, stack: list | None = None) -> list:
        try:
            return self._request(f"get-method {method!r}",
                                 lambda b: b.run_get_method(address, method, list(stack or [])))
        except RunGetMethodError as error:
            raise GetMethodError(address, method, error.exit_code) from None

    def send_message(self, message: Cell) -> None:
        try:
            self._request("send external message", lambda b: b.raw_send_message(message.to_boc()))
        except LiteServerError as refused:
            raise MessageRejected(f"liteserver refused the external message: {refused.message} "
                                  f"(code {refused.code})") from None

    def transactions(self, address: Address, limit: int = 20) -> list[TxRecord]:
        newest = self.account(address)
        if newest.last_tx_lt == 0 or limit <= 0:
            return []
        txs = self._request("transactions", lambda b: b.get_transactions(
            address, limit, from_lt=newest.last_tx_lt, from_hash=bytes.fromhex(newest.last_tx_hash)))
        return [parse_transaction(address, tx.cell) for tx in txs]

    def now(self) -> int:
        return int(self._request("chain time", lambda b: b.get_time())["now"])
