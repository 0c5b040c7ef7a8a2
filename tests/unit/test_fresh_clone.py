"""A fresh clone passes wherever it lives: the tests that once read outside the repository (the deployment
guide beside the checkout) or depended on the checkout's path (a leak's name relative to it) run again
from a clone under /tmp, with nothing beside it, through this checkout's virtualenv."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Tests whose outcome once depended on where the checkout lives (issue 24). Not the full secret scan: it
# reads only tracked files, wherever they are, and takes half a minute.
LOCATION_SENSITIVE = ("tests/monitoring/test_metrics.py", "tests/unit/test_secret_hygiene.py::test_a_new_secret_is_found")


def clone_of_this_tree(dest: Path) -> Path:
    """A clone at the committed tree plus this checkout's changes to tracked files (`git stash create`
    records them in a commit without touching the work tree; the clone shares the object store)."""
    changes = subprocess.run(["git", "stash", "create"], cwd=REPO, capture_output=True, text=True, check=True)
    commit = changes.stdout.strip() or "HEAD"
    subprocess.run(["git", "clone", "--quiet", "--shared", "--no-checkout", str(REPO), str(dest)], check=True)
    if commit == "HEAD":
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
    subprocess.run(["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", commit], cwd=dest, check=True)
    return dest


@pytest.fixture
def under_tmp():
    """A folder directly under /tmp (whatever TMPDIR says), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="tonsurance-clone-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_location_sensitive_tests_pass_in_a_clone_under_tmp(under_tmp):
    clone = clone_of_this_tree(under_tmp / "clone")
    assert not any((folder / "shared").exists() for folder in clone.parents)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(under_tmp / "pytest"),
         *LOCATION_SENSITIVE],
        cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout
