"""scripts/mutate.py (`make mutate`): its targets name modules and tests that exist, the floors issue 26 asks for
are set, --list runs, and a target's verdicts are read into its score. A mutation run takes minutes, so the suite
never runs one (docs/testing.md)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "mutate.py"


@pytest.fixture(scope="module")
def mutate():
    spec = importlib.util.spec_from_file_location("mutate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutate"] = module     # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_list_names_every_target():
    listed = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, check=True)
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == ["wallet", "deploy-journal", "migrations", "config-rules", "policy-rules", "deploy-checks",
                     "deploy-sending"]


def test_each_target_mutates_a_module_of_its_own_held_to_tests_that_exist(mutate):
    for target in mutate.TARGETS:
        assert (ROOT / target.module).is_file(), target
        assert target.tests and all((ROOT / t).is_file() for t in target.tests), target
        assert (ROOT / target.package).is_dir() and target.package != "tests"
    assert len({t.module for t in mutate.TARGETS}) == len(mutate.TARGETS)
    # The wallet journal and send guard, the deployer's journal and the migrations' checksums and lock: >= 90%.
    assert {t.name for t in mutate.TARGETS if t.floor >= 0.90} == {"wallet", "deploy-journal", "migrations"}


def test_an_unknown_target_is_refused_with_the_known_ones():
    refused = subprocess.run([sys.executable, str(SCRIPT), "walet"], capture_output=True, text=True)
    assert refused.returncode == 2 and "unknown target(s) walet; known: wallet, deploy-journal" in refused.stderr


def test_verdicts_become_counts_a_score_and_survivors_and_survivors_are_tested_again(mutate, tmp_path):
    target = mutate.Target("scratch", "a module scored whole", "database/migrations.py", ("tests/x.py",))
    meta = tmp_path / "mutants" / f"{target.module}.meta"
    meta.parent.mkdir(parents=True)
    codes = {"database.migrations.x_apply__mutmut_1": 1, "database.migrations.x_apply__mutmut_2": 1,
             "database.migrations.x_apply__mutmut_3": 36, "database.migrations.x_apply__mutmut_4": 0,
             "database.migrations.x_apply__mutmut_5": 33, "database.migrations.x_apply__mutmut_6": None}
    meta.write_text(json.dumps({"exit_code_by_key": codes, "durations_by_key": {}}))
    counts, survivors = mutate.results(tmp_path, target)
    assert counts == {"killed": 2, "timeout": 1, "survived": 1, "no tests": 1, "not checked": 1}
    assert survivors == ["database.migrations.x_apply__mutmut_4 (survived)",
                         "database.migrations.x_apply__mutmut_5 (no tests)"]
    assert mutate.Outcome(target, counts, survivors, 0.0).score == pytest.approx(3 / 5)

    # The next run names what was not detected and what did not run; --survivors only the undetected.
    assert mutate.to_test(tmp_path, target) == ["database.migrations.x_apply__mutmut_4",
                                                "database.migrations.x_apply__mutmut_5",
                                                "database.migrations.x_apply__mutmut_6"]
    assert mutate.to_test(tmp_path, target, survivors_only=True) == ["database.migrations.x_apply__mutmut_4",
                                                                     "database.migrations.x_apply__mutmut_5"]
    assert mutate.to_test(tmp_path / "never-run", target) is None


def test_a_target_scores_and_tests_only_the_functions_it_names(mutate, tmp_path):
    target = mutate.Target("scratch", "two functions", "chain/wallets.py", ("tests/x.py",),
                           functions=("JournaledWallet._settle", "parse_journal"))
    assert target.mangled("JournaledWallet._settle") == "chain.wallets.x\u01c1JournaledWallet\u01c1_settle"
    assert target.mangled("parse_journal") == "chain.wallets.x_parse_journal"
    meta = tmp_path / "mutants" / f"{target.module}.meta"
    meta.parent.mkdir(parents=True)
    codes = {"chain.wallets.x\u01c1JournaledWallet\u01c1_settle__mutmut_1": 1,
             "chain.wallets.x\u01c1JournaledWallet\u01c1_settle__mutmut_2": 0,
             # a function whose name starts with a chosen one's is not chosen
             "chain.wallets.x\u01c1JournaledWallet\u01c1_settle_others__mutmut_1": 0,
             "chain.wallets.x_parse_journal__mutmut_1": 1, "chain.wallets.x_fingerprint__mutmut_1": 0}
    meta.write_text(json.dumps({"exit_code_by_key": codes, "durations_by_key": {}}))
    assert mutate.results(tmp_path, target) == (
        {"killed": 2, "survived": 1}, ["chain.wallets.x\u01c1JournaledWallet\u01c1_settle__mutmut_2 (survived)"])
    assert mutate.to_test(tmp_path, target) == ["chain.wallets.x\u01c1JournaledWallet\u01c1_settle__mutmut_2"]


def test_the_named_targets_choose_functions_that_exist_in_their_module(mutate):
    """A renamed function would silently leave the selection (and the score): every chosen one must exist."""
    import ast

    for target in mutate.TARGETS:
        tree = ast.parse((ROOT / target.module).read_text())
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        defined |= {f"{cls.name}.{node.name}" for cls in tree.body if isinstance(cls, ast.ClassDef)
                    for node in cls.body if isinstance(node, ast.FunctionDef)}
        assert set(target.functions) <= defined, (target.name, set(target.functions) - defined)
    assert mutate.BY_NAME["wallet"].functions and mutate.BY_NAME["migrations"].functions


def test_documented_survivors_are_read_from_docs_testing(mutate):
    names = mutate.documented()
    assert names, "docs/testing.md lists no surviving mutant by name"
    assert all("__mutmut_" in name for name in names)


def test_survivors_shown_equivalent_leave_the_score(mutate, tmp_path, monkeypatch):
    docs = tmp_path / "testing.md"
    docs.write_text("- **f** — Equivalent: SQL keywords are case-insensitive. `database.migrations.x_f__mutmut_1`\n"
                    "- **g** — message wording. `database.migrations.x_g__mutmut_2`\n")
    monkeypatch.setattr(mutate, "DOCS", docs)
    assert mutate.equivalent() == {"database.migrations.x_f__mutmut_1"}
    assert mutate.documented() == {"database.migrations.x_f__mutmut_1", "database.migrations.x_g__mutmut_2"}
    outcome = mutate.Outcome(mutate.BY_NAME["migrations"], {"killed": 8, "survived": 2}, [], 0.0, equivalent=1)
    assert outcome.score == pytest.approx(8 / 9)


def test_the_mutation_workflow_runs_when_any_targets_module_or_tests_change(mutate):
    """.github/workflows/mutation.yml: its pull-request paths are every target's module and tests (a target left
    out would never run on the change that weakens it), and its run step picks the changed targets."""
    import yaml

    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "mutation.yml").read_text())
    paths = set(flow[True]["pull_request"]["paths"])  # YAML reads the key `on` as True
    wanted = {"scripts/mutate.py"} | {t.module for t in mutate.TARGETS} | {f for t in mutate.TARGETS for f in t.tests}
    assert paths == wanted
    assert all((ROOT / p).is_file() for p in paths)
    assert "schedule" in flow[True]
    (run,) = [s["run"] for s in flow["jobs"]["mutate"]["steps"] if "scripts/mutate.py" in s.get("run", "")]
    assert '--changed-since "origin/$BASE_REF"' in run
