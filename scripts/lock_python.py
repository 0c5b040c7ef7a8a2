"""Write constraints.txt: every Python distribution of the virtualenv, pinned, with the sha256 of its file.

    .venv/bin/python scripts/lock_python.py > constraints.txt    (`make lock` runs it after installing requirements.txt)

The pins are `pip freeze --all` of the virtualenv (pip itself excepted); the hashes are those of the files pip
chooses for them from the index (its installation report of a dry run, nothing installed), i.e. the wheels of
this platform and Python (Linux x86_64, CPython 3.11: the machines and CI). scripts/bootstrap installs with
`pip install --require-hashes --no-deps -r constraints.txt`, so a file whose bytes differ from the lock is refused.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HEADER = ("# Every Python distribution of the virtualenv, pinned with the sha256 of its file (Linux x86_64, CPython 3.11).\n"
          "# scripts/bootstrap installs it with --require-hashes. Regenerate with: make lock (scripts/lock_python.py)\n")


def pip(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], check=True,
                          capture_output=True, text=True).stdout


def frozen_pins() -> list[str]:
    return sorted((line for line in pip("freeze", "--all").splitlines()
                   if line and not line.startswith(("pip==", "-e ", "#"))), key=str.lower)


def hashed_pins(pins: list[str]) -> dict[str, str]:
    """pin -> sha256 of the file pip would install for it here."""
    with tempfile.TemporaryDirectory(prefix="tonsurance-lock-") as tmp:
        requirements, report = Path(tmp) / "pins.txt", Path(tmp) / "report.json"
        requirements.write_text("\n".join(pins) + "\n")
        pip("install", "--quiet", "--dry-run", "--ignore-installed", "--no-deps", "--report", str(report),
            "-r", str(requirements))
        chosen = json.loads(report.read_text())["install"]
    by_name = {_normal(item["metadata"]["name"]): item for item in chosen}
    hashes = {}
    for pin in pins:
        name, version = pin.split("==")
        item = by_name[_normal(name)]
        if item["metadata"]["version"] != version:
            raise SystemExit(f"lock: pip chose {name} {item['metadata']['version']}, not the installed {version}")
        hashes[pin] = item["download_info"]["archive_info"]["hashes"]["sha256"]
    return hashes


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def main() -> None:
    hashes = hashed_pins(frozen_pins())
    sys.stdout.write(HEADER + "".join(f"{pin} \\\n    --hash=sha256:{digest}\n" for pin, digest in hashes.items()))


if __name__ == "__main__":
    main()
