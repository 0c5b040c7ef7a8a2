"""Figures of the local Kubernetes cluster (scripts/cluster): start times, control-plane memory, and
`make up` of the whole local stack into a cluster of its own (in a throwaway copy of the checkout).

    .venv/bin/python bench/cluster.py                 # everything (about 3 minutes)
    .venv/bin/python bench/cluster.py --skip-make-up  # cluster figures only
    .venv/bin/python bench/cluster.py --smoke         # create, start, stop, delete one cluster (`make test`)

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localcluster.cluster import Cluster  # noqa: E402
from tests.e2e.harness import copy_project  # noqa: E402


def timed(action) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cluster_figures(smoke: bool = False) -> None:
    state = Path(tempfile.mkdtemp(prefix="tonsurance-bench-cluster-"))
    cluster = Cluster("bench", state)
    try:
        print(f"create and start a new cluster:        {timed(cluster.start):6.1f} s")
        print(f"start of a running cluster (no-op):     {timed(cluster.start):6.1f} s")
        if smoke:
            print(f"stop:                                   {timed(cluster.stop):6.1f} s")
            return
        time.sleep(10)  # let the controllers settle before measuring memory
        total = 0.0
        for component in cluster.components():
            mib = rss_mib(component.pid)
            total += mib
            print(f"  RSS {component.name:<24} {mib:7.0f} MiB")
        print(f"  RSS total                    {total:7.0f} MiB")
        stop = timed(cluster.stop)
        print(f"stop:                                   {stop:6.1f} s")
        print(f"start of a stopped cluster:             {timed(cluster.start):6.1f} s")
        apiserver = next(c for c in cluster.components() if c.name == "kube-apiserver")
        os.kill(apiserver.pid, 9)
        print(f"restart after SIGKILL of the API server: {timed(cluster.start):6.1f} s")
    finally:
        cluster.delete()
        shutil.rmtree(state, ignore_errors=True)


def make_up_figures() -> None:
    base = Path(tempfile.mkdtemp(prefix="tonsurance-bench-up-"))
    base.chmod(0o755)  # the postgres user must reach the copy's data directory
    work = copy_project(base / "project", linked=(".venv", "node_modules", ".tools"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}

    def make(*args: str) -> None:
        subprocess.run(["make", "-s", *args], cwd=work, env=env, check=True, capture_output=True)

    try:
        print(f"make up, first (cluster created, whole local stack deployed): {timed(lambda: make('up')):6.1f} s")
        print(f"make up, second (no changes):                                 {timed(lambda: make('up')):6.1f} s")
        print(f"make down:                                                    {timed(lambda: make('down')):6.1f} s")
        print(f"make up after make down (servers restarted, no changes):      {timed(lambda: make('up')):6.1f} s")
    finally:
        Cluster.for_checkout("local", root=work).delete()
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", str(work / ".state" / "postgres")])
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-make-up", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="one cluster created, started and stopped; no make up")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    cluster_figures(args.smoke)
    if not (args.skip_make_up or args.smoke):
        make_up_figures()


if __name__ == "__main__":
    main()
