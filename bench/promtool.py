"""Time the alert checks of `make test`: `promtool check rules` and `promtool test rules` over every case of
monitoring/alerts.py, and (with --cold-build) the bootstrap's prometheus step (prometheus and promtool) with empty Go caches.

    .venv/bin/python bench/promtool.py                 # rule check and rule tests: 5 runs each
    .venv/bin/python bench/promtool.py --cold-build    # also build prometheus + promtool as the bootstrap does (minutes)
    .venv/bin/python bench/promtool.py --smoke         # one run each (what `make test` runs)

Prints figures; asserts nothing about time.
"""

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitoring.alerts import ALERTS, rule_groups, rule_tests  # noqa: E402

PROMTOOL = ROOT / ".tools" / "bin" / "promtool"


def timed(args: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run that must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def report(label: str, runs: list[tuple[float, float]]) -> None:
    walls, cpus = zip(*runs)
    print(f"{label}: median {statistics.median(walls):.2f} s wall, {statistics.median(cpus):.2f} s CPU "
          f"over {len(runs)} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold-build", action="store_true", help="also build prometheus and promtool with empty Go caches")
    parser.add_argument("--smoke", action="store_true", help="one run each, no build")
    args = parser.parse_args()
    runs = 1 if args.smoke else 5

    with tempfile.TemporaryDirectory(prefix="tonsurance-promtool-") as tmp:
        work = Path(tmp)
        (work / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups("bench", "docs/runbook.md")}))
        files = []
        for name, content in rule_tests("rules.yaml", "bench", "docs/runbook.md").items():
            (work / name).write_text(yaml.safe_dump(content))
            files.append(name)
        cases = sum(len(a.cases) for a in ALERTS)
        print(f"{len(ALERTS)} alerts, {cases} promtool cases in {len(files)} test files")
        report("promtool check rules", [timed([str(PROMTOOL), "check", "rules", "rules.yaml"], work) for _ in range(runs)])
        report("promtool test rules", [timed([str(PROMTOOL), "test", "rules", *files], work) for _ in range(runs)])

        if args.cold_build and not args.smoke:
            env = {"PATH": "/usr/local/go/bin:/usr/bin:/bin", "HOME": tmp, "GOMODCACHE": f"{tmp}/gomod",
                   "GOCACHE": f"{tmp}/gocache", "GOFLAGS": "-mod=mod -buildvcs=false"}
            # As the bootstrap's prometheus step: both binaries in one build.
            wall, cpu = timed(["nice", "go", "build", "-tags", "remove_all_sd", "-trimpath", "-ldflags", "-s -w",
                               "-o", f"{tmp}/", "github.com/prometheus/prometheus/cmd/prometheus",
                               "github.com/prometheus/prometheus/cmd/promtool"],
                              ROOT / "toolchain" / "prometheus", env)
            print(f"cold prometheus + promtool build: {wall:.0f} s wall, {cpu:.0f} s CPU")


if __name__ == "__main__":
    main()
