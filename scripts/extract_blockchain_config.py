"""Extract the full mainnet blockchain config cell shipped with @ton/sandbox into chain/data/.

Run once after `npm ci` when @ton/sandbox is upgraded; the output is committed so the runtime never needs node:

    .venv/bin/python scripts/extract_blockchain_config.py
"""
from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

from pytoniq_core import Cell

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "node_modules/@ton/sandbox/dist/config/defaultConfig.js"
TARGET = ROOT / "chain/data/blockchain_config.b64"
SEQNO_TARGET = ROOT / "chain/data/blockchain_config.seqno"


def extract(source: Path) -> tuple[str, int]:
    text = source.read_text()
    config = re.search(r"exports\.defaultConfig = `([A-Za-z0-9+/=]+)`", text)
    seqno = re.search(r"exports\.defaultConfigSeqno = (\d+);", text)
    if not config or not seqno:
        raise SystemExit(f"{source}: defaultConfig / defaultConfigSeqno not found (layout of @ton/sandbox changed?)")
    b64 = config.group(1)
    Cell.one_from_boc(base64.b64decode(b64))  # must parse as one cell tree
    return b64, int(seqno.group(1))


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    b64, seqno = extract(source)
    TARGET.write_text(b64 + "\n")
    SEQNO_TARGET.write_text(f"{seqno}\n")
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(b64)} base64 chars, mainnet config seqno {seqno})")


if __name__ == "__main__":
    main()
