"""The committed artefacts are exactly what the pinned FunC compiler makes of the committed sources."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts import base
from contracts.base import ArtifactError, load_artifact

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ["MultiTrancheVault", "PolicyRouter", "PolicyShard", "PricingOracle", "SureTokenMinter", "SureTokenWallet"]


def test_fresh_build_equals_committed_artefacts(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is needed to rebuild the contracts (scripts/bootstrap installs it)"
    subprocess.run([node, "scripts/build_contracts.mjs", "--out", str(tmp_path)], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    fresh = sorted(p.name for p in tmp_path.glob("*.json"))
    assert fresh == sorted(p.name for p in base.BUILD_DIR.glob("*.json")) == [f"{n}.json" for n in ARTEFACTS]
    for name in fresh:
        assert (tmp_path / name).read_text() == (base.BUILD_DIR / name).read_text(), (
            f"contracts/build/{name} is stale: run `node scripts/build_contracts.mjs` and commit the result")


@pytest.mark.parametrize("name", ARTEFACTS)
def test_artefact_loads_with_matching_hash(name: str) -> None:
    compiled = load_artifact(name)
    assert compiled.code.hash.hex() == compiled.code_hash
    assert json.loads((base.BUILD_DIR / f"{name}.json").read_text())["source"].startswith("contracts/func/")


@pytest.fixture
def build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(base, "BUILD_DIR", tmp_path)
    load_artifact.cache_clear()
    yield tmp_path
    load_artifact.cache_clear()


def test_tampered_artefact_is_refused(build_dir: Path) -> None:
    artefact = json.loads((ROOT / "contracts/build/PolicyShard.json").read_text())
    artefact["codeHash"] = "00" * 32
    (build_dir / "PolicyShard.json").write_text(json.dumps(artefact))
    with pytest.raises(ArtifactError, match="does not match"):
        load_artifact("PolicyShard")


def test_missing_artefact_says_how_to_build(build_dir: Path) -> None:
    with pytest.raises(ArtifactError, match="build_contracts.mjs"):
        load_artifact("PolicyShard")
