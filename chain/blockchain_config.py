"""The full mainnet config cell bundled with the project (chain/data/, see scripts/extract_blockchain_config.py).

Plain data: the emulator runs every transaction with it and the wallets price forwarding fees from it
(chain/fees.py), so reading it never loads the native TVM.
"""
from __future__ import annotations

import base64
import functools
from pathlib import Path

from pytoniq_core import Cell

DATA_DIR = Path(__file__).resolve().parent / "data"


@functools.cache
def blockchain_config() -> Cell:
    """The full mainnet config cell (see scripts/extract_blockchain_config.py)."""
    return Cell.one_from_boc(base64.b64decode(config_b64()))


@functools.cache
def config_b64() -> bytes:
    return (DATA_DIR / "blockchain_config.b64").read_text().strip().encode()
