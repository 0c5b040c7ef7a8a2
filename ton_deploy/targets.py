"""A contract to deploy, as its address and the StateInit whose hash that address is, and the BOC form in which
cells travel in resource inputs (plain strings, so the providers pickle and the state stays readable)."""
from __future__ import annotations

import base64
from dataclasses import dataclass

from pytoniq_core import Address, Cell, StateInit

from chain.records import raw_address


@dataclass(frozen=True)
class Target:
    """A contract to deploy: its address and the StateInit whose hash that address is."""
    address: Address
    state_init: StateInit

    @property
    def code_hash(self) -> str:
        return self.state_init.code.hash.hex()

    @property
    def raw(self) -> str:
        return raw_address(self.address)


def target_of(code: Cell, data: Cell) -> Target:
    state_init = StateInit(code=code, data=data)
    return Target(Address((0, state_init.serialize().hash)), state_init)


def cell_from_b64(boc: str) -> Cell:
    return Cell.one_from_boc(base64.b64decode(boc))


def cell_to_b64(cell: Cell) -> str:
    return base64.b64encode(cell.to_boc()).decode()
