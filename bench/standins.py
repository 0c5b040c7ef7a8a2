"""What the stand-ins cost: CPU seconds per minute of one stand-in of each API service at the healthy
synthetic load (no chain reads), measured from /proc while they run.

    .venv/bin/python bench/standins.py            # 60 s
    .venv/bin/python bench/standins.py --smoke    # 5 s (the tests run this)

Prints figures; asserts nothing about time.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localcluster.ports import free_port  # noqa: E402
from localcluster.standins.faults import HEALTHY  # noqa: E402
from localcluster.standins.standin import launch  # noqa: E402

SERVICES = ("ocaml-backend", "api-v2", "websocket-v2")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def start(service: str, work: Path) -> tuple[subprocess.Popen, dict]:
    behaviour = work / f"{service}.json"
    behaviour.write_text(json.dumps(HEALTHY.as_dict()))
    spec = {"service": service, "pod": f"{service}-bench", "namespace": "bench", "http_port": free_port(),
            "metrics_port": free_port(), "behaviour_file": str(behaviour), "contract_addresses": {}, "localnet": None}
    return launch(spec), spec


def ready(spec: dict) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{spec['http_port']}/health", timeout=2):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="5 s instead of 60 s")
    seconds = 5 if parser.parse_args().smoke else 60
    with tempfile.TemporaryDirectory() as work:
        started = [(service, *start(service, Path(work))) for service in SERVICES]
        try:
            deadline = time.monotonic() + 60
            while not all(ready(spec) for _, _, spec in started):
                if time.monotonic() > deadline:
                    raise SystemExit("the stand-ins did not answer /health within 60 s")
                time.sleep(0.2)
            before = {service: cpu_seconds(process.pid) for service, process, _ in started}
            time.sleep(seconds)
            after = {service: cpu_seconds(process.pid) for service, process, _ in started}
        finally:
            for _, process, _ in started:
                process.terminate()
                process.wait()
    print(f"stand-in CPU over {seconds} s at {HEALTHY.requests_per_second:g} requests/s each (no chain reads):")
    for service in SERVICES:
        print(f"  {service:<14} {(after[service] - before[service]) / seconds * 60:.2f} CPU-s per minute")
    total = sum(after.values()) - sum(before.values())
    print(f"  total          {total / seconds * 60:.2f} CPU-s per minute ({total / seconds * 100:.1f}% of one core)")


if __name__ == "__main__":
    main()
