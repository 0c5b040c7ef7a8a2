"""Finding 6 of issue 27 (supply chain): Python dependencies are installed by hash. constraints.txt is the whole lock
(every distribution, one sha256 each, written by scripts/lock_python.py); scripts/bootstrap, which CI runs too,
installs it with --require-hashes, so a file whose bytes differ from the reviewed lock is refused."""
from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+) \\\n    --hash=sha256:([0-9a-f]{64})$", re.MULTILINE)


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock() -> dict[str, str]:
    text = (ROOT / "constraints.txt").read_text()
    entries = [line for line in text.split("\n") if line and not line.startswith(("#", "    --hash"))]
    pins = {normal(name): version for name, version, _digest in PIN.findall(text)}
    assert len(pins) == len(entries), "every pin of constraints.txt carries one sha256 on the next line"
    return pins


def test_every_requirement_is_locked_at_its_version():
    pins = lock()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, version = requirement.split("==")
            assert pins[normal(name.split("[")[0])] == version, requirement


def test_the_virtualenv_is_the_lock():
    installed = {normal(d.metadata["Name"]): d.version for d in distributions()}
    installed.pop("pip", None)
    assert {name: installed.get(name) for name in lock()} == lock()


def test_bootstrap_installs_by_hash_only():
    script = (ROOT / "scripts" / "bootstrap").read_text()
    [install] = [line for line in script.splitlines() if "pip install" in line]
    assert "--require-hashes --no-deps -r constraints.txt" in install and "requirements.txt" not in install


def test_a_file_with_other_bytes_is_refused(tmp_path):
    """pip's own hash check, on a lock entry whose sha256 is not the file's (no index is reached: the file is local)."""
    wheel = tmp_path / "tonsurance_probe-1.0-py3-none-any.whl"
    subprocess.run([sys.executable, "-c", _MAKE_WHEEL, str(wheel)], check=True)
    locked = tmp_path / "lock.txt"
    locked.write_text(f"{wheel} --hash=sha256:{'0' * 64}\n")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--require-hashes",
                             "--no-deps", "-r", str(locked)], capture_output=True, text=True)
    assert result.returncode != 0 and "DO NOT MATCH THE HASHES" in result.stderr


# A minimal valid wheel (metadata only), written with the standard library.
_MAKE_WHEEL = """
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as w:
    info = "tonsurance_probe-1.0.dist-info/"
    w.writestr(info + "METADATA", "Metadata-Version: 2.1\\nName: tonsurance-probe\\nVersion: 1.0\\n")
    w.writestr(info + "WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    w.writestr(info + "RECORD", "")
"""
