"""`connect(settings)`: the chain client for a stack's network (its own module so that the interface,
chain/client.py, imports no backend: no import cycle, and a liteserver client loads the TVM only to run a getter)."""
from __future__ import annotations

from chain.client import ChainClient, ChainSettings


def connect(settings: ChainSettings) -> ChainClient:
    """Build the client for settings.network. Opens nothing until the first call."""
    if settings.network == "localnet":
        from chain.localnet import LocalnetClient   # loads the emulator: only localnet needs it
        return LocalnetClient(settings)
    from chain.liteserver import LiteserverClient
    return LiteserverClient(settings)
