"""Errors of chain access, shared by the sandbox, the backends and the wallets."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytoniq_core import Address


class ChainError(Exception):
    """Base of every error raised by chain access."""


class ConfigError(ChainError):
    """Settings or a network config file are missing, malformed or point at another network."""


class NetworkError(ChainError):
    """A transient failure talking to the chain (timeout, connection lost) that outlived the retries.

    For a send this means: the message may or may not have reached the network.
    """


class MessageRejected(ChainError):
    """The network refused an external message outright (the destination would not accept it)."""


class UnprovenAnswer(ChainError):
    """A liteserver's answer does not verify against the trusted key block (a bad proof, a block the validators
    did not sign, a state of another shard, "absent" without a proof of absence): nothing is concluded from it.
    Not transient: a liteserver that sends it is lying or broken; the message names it."""


class LiteserversBehind(NetworkError):
    """The newest proven masterchain block of every liteserver asked is too old to decide on (they lag, or
    withhold newer blocks): nothing is concluded until one is current."""


class GetMethodError(ChainError):
    """A get-method exited with a non-zero code (on the emulator or a liteserver)."""

    def __init__(self, address: Address, method: str | int, exit_code: int, detail: str = ""):
        self.address, self.method, self.exit_code = address, method, exit_code
        super().__init__(f"get-method {method!r} on {address.to_str(False)} failed with exit code {exit_code}"
                         + (f": {detail}" if detail else ""))
