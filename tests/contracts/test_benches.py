"""The contract benchmarks in bench/ run (their --smoke mode) and print their figures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, f"bench/{script}", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("script, expected", [
    ("shard_rent.py", ["rent per policy-year, formula", "rent per policy-year, taken by the emulator",
                       "status active, storage debt 0", "frozen after"]),
    ("redemption_bound.py", ["LP wait (days)", "attacker pays (TON)", "bound: a queued redemption is due"]),
])
def test_bench_smoke(script: str, expected: list[str]) -> None:
    out = run_bench(script, "--smoke")
    for line in expected:
        assert line in out, out
