"""The deploy workflow (.github/workflows/deploy.yml): linted by actionlint (built by scripts/bootstrap from its
pinned Go module), its MAINNET confirmation run as the shell it is, and the guide's job order."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
ACTIONLINT = ROOT / ".tools" / "bin" / "actionlint"


@pytest.fixture(scope="module")
def actionlint() -> Path:
    if not ACTIONLINT.exists():
        pytest.fail("actionlint is missing: run scripts/bootstrap (make test does)")
    return ACTIONLINT


def lint(actionlint: Path, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(actionlint), "-no-color", str(path)], capture_output=True, text=True, cwd=ROOT)


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_passes_actionlint(actionlint):
    run = lint(actionlint, WORKFLOW)
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_catches_a_broken_copy(actionlint, tmp_path):
    """The lint is real: the same workflow with a job needing one that does not exist fails."""
    broken = tmp_path / ".github" / "workflows" / "deploy.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("needs: approval", "needs: aproval"))
    run = lint(actionlint, broken)
    assert run.returncode != 0 and "aproval" in run.stdout


@pytest.mark.parametrize("stack, confirm, ok", [
    ("mainnet", "", False), ("mainnet", "mainnet", False), ("mainnet", "MAINNET", True), ("testnet", "", True)])
def test_mainnet_needs_the_word_mainnet(stack, confirm, ok):
    script = workflow()["jobs"]["confirm"]["steps"][0]["run"]
    run = subprocess.run(["bash", "-e", "-c", script], env={**os.environ, "STACK": stack, "CONFIRM": confirm},
                         capture_output=True, text=True)
    assert (run.returncode == 0) == ok
    if not ok:
        assert "confirm input to read MAINNET" in run.stdout


def test_jobs_follow_the_guide():
    flow = workflow()
    assert set(flow[True]["workflow_dispatch"]["inputs"]) == {"stack", "deployment_type", "confirm"}  # `on:` is True
    jobs = flow["jobs"]
    assert jobs["approval"]["needs"] == ["tests", "secret-scan"]
    assert jobs["approval"]["environment"] == jobs["deploy"]["environment"] == "${{ inputs.stack }}"
    steps = [s.get("name") for s in jobs["deploy"]["steps"]]
    order = ["Preflight", "Preview with the policy pack", "Up", "Verify", "Deployment record"]
    assert [s for s in steps if s in order] == order
    preview = next(s for s in jobs["deploy"]["steps"] if s.get("name") == "Preview with the policy pack")
    assert "--policy-pack policy" in preview["run"]
    # Steps pipe preflight and verify into tee: only `shell: bash` (-eo pipefail) lets their failure stop the job.
    assert flow["defaults"]["run"]["shell"] == "bash"
