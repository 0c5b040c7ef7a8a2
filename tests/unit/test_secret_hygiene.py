"""No secret in the repository: detect-secrets (pinned) scans every tracked file against the audited
baseline `.secrets.baseline`; any finding the baseline does not hold fails. The same check runs as the
pre-commit hook (.pre-commit-config.yaml)."""
from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.core import baseline
from detect_secrets.settings import transient_settings

from contracts.base import load_artifact

REPO = Path(__file__).resolve().parents[2]
BASELINE = ".secrets.baseline"


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [name for name in listed.decode().split("\0") if name and (REPO / name).is_file()]


def new_findings(files: list[str]) -> list[str]:
    """Findings in `files` (relative to the repository) that the baseline does not list."""
    config = baseline.load_from_file(str(REPO / BASELINE))
    with transient_settings({"plugins_used": config["plugins_used"], "filters_used": config["filters_used"]}):
        known = SecretsCollection.load_from_baseline(config)
        found = SecretsCollection()
        found.scan_files(*files, num_processors=1)
    return [f"{name}:{secret.line_number}: {secret.type}" for name, secret in found - known]


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # the baseline names files relative to the repository root


def test_tracked_files_hold_no_secret_beyond_the_audited_baseline(in_repo):
    files = tracked_files()
    assert BASELINE in files and ".pre-commit-config.yaml" in files
    assert new_findings(files) == []


def test_a_new_secret_is_found(in_repo, tmp_path):
    leak = tmp_path / "settings.py"
    key_id = "AKIA" + "QWERTYUIOPASDFGH"  # built here so that this file itself holds no key
    boc = base64.b64encode(load_artifact("PolicyRouter").code.to_boc()).decode()  # "te6cc...": public code
    leak.write_text(f'AWS_ACCESS_KEY_ID = "{key_id}"\nDATABASE_URL = "postgresql://app:' + 'hunter2xyz@db/app"\n'
                    f'CODE = "{boc}"\n')  # contract code (a TON BOC) is public: filtered out
    found = new_findings([*tracked_files()[:20], str(leak)])
    # "name:line: type", the name relative to the working directory (the repository) wherever the file lives
    findings = [f.rsplit(":", 2) for f in found]
    assert found and {(REPO / name).resolve() for name, _, _ in findings} == {leak.resolve()}
    assert "3" not in {line for _, line, _ in findings}
    assert any("AWS Access Key" in f for f in found) and any("Basic Auth" in f for f in found)


def test_every_baseline_entry_was_audited():
    results = baseline.load_from_file(str(REPO / BASELINE))["results"]
    assert results and all(entry.get("is_secret") is False for entries in results.values() for entry in entries)
