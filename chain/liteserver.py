"""Testnet / mainnet through liteservers: pytoniq's LiteBalancer behind the synchronous ChainClient interface.

The network config is a file whose path comes from stack config; it is read and checked (its zero state
must be the one of the requested network) when the client is built, and never downloaded. The balancer
and its private event loop are created on the first request, so building a client opens nothing.
Every request has a timeout and is retried on transient errors (timeouts, lost connections, no alive
peer, liteserver "not ready"); definite answers (a getter's exit code, a refused message) are not retried.

Answers are checked, because a lagging or lying liteserver could make a landed message look absent (a
second send) or report a contract that does not exist as active:
- proofs: pytoniq checks the Merkle proofs of account states, shard blocks and transaction chains
  against the masterchain block the liteserver names (trust_level 1);
- agreement: every read that a decision rests on (account state, transactions, get-methods) is asked of
  `liteserver_quorum` different liteservers (default 2) and must come back the same; otherwise it is
  asked again a few times (one may be a block behind) and then refused with `LiteserversDisagree`, so
  neither "absent" nor "active" is concluded;
- time: "now" is the last masterchain block's time (getMasterchainInfoExt.last_utime), the earliest of
  the quorum's, never a liteserver's wall clock: a lagging server only makes expiry verdicts later.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from pytoniq import LiteBalancer
from pytoniq.liteclient.balancer import BalancerError
from pytoniq.liteclient.client import LiteServerError, RunGetMethodError
from pytoniq_core import Address, Cell

from chain.client import ChainClient, ChainSettings
from chain.errors import ConfigError, GetMethodError, LiteserversDisagree, MessageRejected, NetworkError
from chain.records import AccountInfo, TxRecord, account_info, parse_transaction, raw_address

log = logging.getLogger(__name__)
T = TypeVar("T")

# Zero state (masterchain block 0) root hashes: what tells one TON network from another.
ZERO_STATE_ROOT_HASHES = {
    "mainnet": "F6OpKZKqvqeFp6CQmFomXNMfMj2EnaUSOXN+Mh+wVWk=",
    "testnet": "gj+B8wb/AmlPk1z1AhVI484rhrUpgSr2oSFIh56VoSg=",
}
TRANSIENT_LITESERVER_CODES = {651, 652, -400, -503}   # block not ready / not in db / temporarily unavailable
STARTUP_TIMEOUT_FACTOR = 3   # connecting to the liteservers may take a few request timeouts
PROOF_TRUST_LEVEL = 1        # pytoniq: 2 takes answers as they come; 1 checks every proof; 0 also syncs key blocks

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
    return LiteBalancer.from_config(config, trust_level=PROOF_TRUST_LEVEL, timeout=max(1, int(timeout_seconds)))


def _comparable(value: Any) -> Any:
    """A value two answers can be compared by: cells and slices by hash, lists element-wise."""
    if isinstance(value, (list, tuple)):
        return tuple(_comparable(v) for v in value)
    if isinstance(value, Cell):
        return value.hash.hex()
    if hasattr(value, "to_cell"):
        return value.to_cell().hash.hex()
    if isinstance(value, Address):
        return raw_address(value)
    return value


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

    def _agreed(self, what: str, operation: Callable[[Any], Awaitable[T]], key: Callable[[T], Any]) -> T:
        """The answer of `liteserver_quorum` different liteservers that agree on key(answer) (asked again a few
        times while they differ: one may be a block behind), else LiteserversDisagree."""
        quorum = self.settings.liteserver_quorum
        if quorum <= 1:
            return self._request(what, operation)
        seen: list = []
        for attempt in range(self.settings.retries + 1):
            answers = self._request(what, lambda balancer: self._ask_quorum(balancer, what, operation))
            seen = [key(answer) for answer in answers]
            if all(k == seen[0] for k in seen):
                return answers[0]
            time.sleep(self.settings.poll_interval_seconds * (attempt + 1))
        raise LiteserversDisagree(f"{what} on {self.network}: {quorum} liteservers keep giving different answers "
                                  f"({'; '.join(map(str, seen))[:300]}); concluding nothing from them")

    async def _ask_quorum(self, balancer: Any, what: str, operation: Callable[[Any], Awaitable[T]]) -> list[T]:
        # pytoniq's balancer picks one peer per request; the question goes to several distinct ones here
        alive = sorted(balancer._alive_peers)
        quorum = self.settings.liteserver_quorum
        if len(alive) < quorum:
            raise NetworkError(f"{what} on {self.network}: {len(alive)} liteserver(s) answer, {quorum} must agree "
                               f"(chain settings liteserver_quorum); nothing is concluded from fewer")
        return list(await asyncio.gather(*(operation(balancer._peers[i]) for i in alive[:quorum])))

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
        _, shard_account = self._agreed("account state", lambda peer: peer.raw_get_account_state(address),
                                        lambda answer: answer[1].cell.hash.hex() if answer[1] is not None else None)
        if shard_account is None:
            return AccountInfo("nonexist", 0, None, None, None, None, 0, None)
        return account_info(shard_account.cell)

    def run_get_method(self, address: Address, method: str | int, stack: list | None = None) -> list:
        try:
            return self._agreed(f"get-method {method!r}",
                                lambda peer: peer.run_get_method(address, method, list(stack or [])), _comparable)
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
        txs = self._agreed("transactions", lambda peer: peer.get_transactions(
            address, limit, from_lt=newest.last_tx_lt, from_hash=bytes.fromhex(newest.last_tx_hash)),
            lambda answer: tuple(tx.cell.hash.hex() for tx in answer))
        return [parse_transaction(address, tx.cell) for tx in txs]

    def now(self) -> int:
        """The last masterchain block's time: the earliest the quorum reports (a lagging server delays expiry
        verdicts; a server ahead of the others is ignored)."""
        if self.settings.liteserver_quorum <= 1:
            return int(self._request("chain time", lambda b: b.get_masterchain_info_ext())["last_utime"])
        answers = self._request("chain time", lambda balancer: self._ask_quorum(
            balancer, "chain time", lambda peer: peer.get_masterchain_info_ext()))
        return min(int(answer["last_utime"]) for answer in answers)
