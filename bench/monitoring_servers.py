"""Time the local monitoring servers (localcluster/servers.py) on a state directory of their own: the first
start of every server (empty data), a start after each server was killed with -9, and stop.

    .venv/bin/python bench/monitoring_servers.py           # 3 rounds
    .venv/bin/python bench/monitoring_servers.py --smoke   # 1 round (the test suite runs this)

No cluster is needed: the monitoring sync then reports that it cannot read one, which is what it does before
`scripts/cluster start`. Prints figures; asserts nothing about time.
"""

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localcluster.cluster import await_exit  # noqa: E402
from localcluster.servers import LocalServers  # noqa: E402


def timed(action) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def one_round(state: Path) -> dict[str, float]:
    servers = LocalServers(state, state / "no-cluster" / "kubeconfig", "bench")
    figures = {"first start (every server, empty data)": timed(servers.start)}
    for server in servers.table:
        pid = servers.status_of(server).pid
        os.kill(pid, signal.SIGKILL)
        await_exit([pid], 30)
        figures[f"start after kill -9 of {server.name}"] = timed(servers.start)
    figures["stop (every server)"] = timed(servers.stop)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="one round only")
    args = parser.parse_args()
    rounds = []
    for _ in range(1 if args.smoke else 3):
        state = Path(tempfile.mkdtemp(prefix="tonsurance-bench-servers-"))
        try:
            rounds.append(one_round(state))
        finally:
            LocalServers(state, state / "kubeconfig", "bench").stop()
            shutil.rmtree(state, ignore_errors=True)
    for label in rounds[0]:
        print(f"{label}: median {statistics.median(r[label] for r in rounds):.2f} s over {len(rounds)} rounds")


if __name__ == "__main__":
    main()
