"""Message forwarding fees, priced from config param 25 (basechain msg_forward_prices) of the bundled
mainnet config, which testnet shares. Wallets use them to check a balance before signing; the cost
benchmark to report what a sender pays."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable

from pytoniq_core import Cell, HashMap

from chain.blockchain_config import blockchain_config


@dataclass(frozen=True)
class ForwardPrices:
    lump_price: int
    bit_price: int   # per 2^16 bits
    cell_price: int  # per 2^16 cells

    @staticmethod
    @functools.cache
    def basechain() -> "ForwardPrices":
        params = HashMap.parse(blockchain_config().begin_parse(), 32, key_deserializer=lambda bits: int(bits, 2),
                               value_deserializer=lambda s: s.load_ref())
        prices = params[25].begin_parse()  # msg_forward_prices#ea lump_price bit_price cell_price ...
        prices.load_uint(8)
        return ForwardPrices(prices.load_uint(64), prices.load_uint(64), prices.load_uint(64))

    def fee(self, cells: Iterable[Cell]) -> int:
        """Forwarding fee of a message made of these cells and everything below them, each distinct cell once."""
        seen: set[bytes] = set()
        bits, pending = 0, list(cells)
        while pending:
            cell = pending.pop()
            if cell.hash in seen:
                continue
            seen.add(cell.hash)
            bits += len(cell.bits)
            pending.extend(cell.refs)
        return self.lump_price + -(-(self.bit_price * bits + self.cell_price * len(seen)) // 2**16)


def forward_fee(message: Cell) -> int:
    """What forwarding `message` costs its sender: its cells below the root (the root is not counted)."""
    return ForwardPrices.basechain().fee(message.refs)
