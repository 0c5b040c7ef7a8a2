"""Time scripts/bootstrap: warm (this work tree, nothing changed) and, with --cold, on a fresh clone.

    .venv/bin/python bench/bootstrap.py            # warm: 5 runs
    .venv/bin/python bench/bootstrap.py --cold     # also a clone with empty Go, pip and npm caches (~20-30 min)
    .venv/bin/python bench/bootstrap.py --smoke    # one warm run (what `make test` runs)

Prints figures; asserts nothing about time.
"""

import argparse
import os
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
                   "PIP_NO_CACHE_DIR": "1", "npm_config_cache": f"{tmp}/npm"}
            cold = timed_bootstrap(clone, env)
            print(f"cold bootstrap (fresh clone, empty Go/pip/npm caches): {cold / 60:.1f} min")
            subprocess.run(["chmod", "-R", "u+w", tmp], check=False)  # Go's module cache is read-only


if __name__ == "__main__":
    main()
