"""Time scripts/bootstrap: warm (this work tree, nothing changed) and, with --cold, on a fresh clone.

    .venv/bin/python bench/bootstrap.py            # warm: 5 runs
    .venv/bin/python bench/bootstrap.py --cold     # also a clone with empty Go, pip, npm and tools caches
    .venv/bin/python bench/bootstrap.py --smoke    # one warm run (what `make test` runs)

The cold run reports wall time and CPU-minutes (user + system of the bootstrap and everything it ran: on a
shared machine the CPU figure is the steady one), and the wall time of each step from its first log line.
Prints figures; asserts nothing about time.
"""

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_bootstrap(repo: Path, env: dict[str, str]) -> float:
    start = time.monotonic()
    subprocess.run([repo / "scripts" / "bootstrap"], check=True, env=env, capture_output=True)
    return time.monotonic() - start


def cold_bootstrap(repo: Path, env: dict[str, str]) -> tuple[float, float, list[tuple[float, str]]]:
    """(wall seconds, CPU seconds, [(seconds since start, log line)]) of one bootstrap."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    lines = []
    with subprocess.Popen([repo / "scripts" / "bootstrap"], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as run:
        for line in run.stderr:
            if line.startswith("[bootstrap]"):
                lines.append((time.monotonic() - start, line.strip()))
    if run.returncode != 0:
        raise SystemExit(f"cold bootstrap failed ({run.returncode}); last lines: {lines[-3:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.monotonic() - start, cpu, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="also bootstrap a fresh clone with empty caches")
    parser.add_argument("--smoke", action="store_true", help="one warm run, no cold one")
    args = parser.parse_args()

    warm = [timed_bootstrap(ROOT, dict(os.environ)) for _ in range(1 if args.smoke else 5)]
    print(f"warm bootstrap (nothing changed): median {statistics.median(warm):.2f} s, "
          f"max {max(warm):.2f} s over {len(warm)} runs")

    if args.cold and not args.smoke:
        with tempfile.TemporaryDirectory(prefix="tonsurance-cold-") as tmp:
            clone = Path(tmp) / "repo"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
            env = {**os.environ, "GOMODCACHE": f"{tmp}/gomod", "GOCACHE": f"{tmp}/gocache",
                   "TONSURANCE_TOOLS_CACHE": f"{tmp}/tools", "PIP_NO_CACHE_DIR": "1",
                   "npm_config_cache": f"{tmp}/npm"}
            wall, cpu, lines = cold_bootstrap(clone, env)
            print(f"cold bootstrap (fresh clone, empty Go/pip/npm/tools caches): {wall / 60:.1f} min wall, "
                  f"{cpu / 60:.1f} CPU-minutes ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
            for at, line in lines:
                print(f"  {at / 60:6.1f} min  {line}")
            subprocess.run(["chmod", "-R", "u+w", tmp], check=False)  # Go's module cache is read-only

if __name__ == "__main__":
    main()
