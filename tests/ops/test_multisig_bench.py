"""bench/multisig_orders.py --smoke: an order created and executed through the tool's own functions."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_prints_the_costs_of_an_executed_order():
    run = subprocess.run([sys.executable, "bench/multisig_orders.py", "--smoke"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600, check=True)
    header, row = run.stdout.splitlines()
    assert header.split()[:2] == ["order", "msgs"]
    name, messages, new_order, approval, *_ = row.split()
    assert (name, messages) == ("add-keeper", "1")
    assert 0 < float(approval) < float(new_order) < 1   # TON left the wallets, a fraction of one
