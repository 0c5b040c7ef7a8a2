"""`make mutate`: mutation testing (mutmut, pinned) of the safety-critical modules, each against its own tests.

Each target mutates one module (one changed line at a time: a comparison flipped, a constant moved, a
condition negated, a call dropped...) and runs only the tests that cover the mutated function, out of the
target's own test files. A mutant that no test notices has *survived*: the tests would pass with that bug.

A target may name the functions it is about (`functions`, "Class.method" or "function"): only their mutants are
tested and scored, so the wallet target tests the journal and the send-once guard, not the whole of
chain/wallets.py (its key derivation, message building and fee estimate are other code). mutmut still makes
every mutant of the module; the script hands `mutmut run` the names of the chosen ones (a pattern per function
on the first run, the mutants still to test by name later). A target without `functions` scores its whole module.

A target runs in a scratch project of its own, `.state/mutation/<target>/`: mutmut copies the module's package
and the tests into its `mutants/` folder, where every other folder of the project is a link to this checkout.
Results stay there, so a second run retests only what changed. The report gives killed / survived per target,
its mutation score (mutants detected / mutants tested: killed and timed out over those plus survivors and
mutants no test reaches, less the survivors docs/testing.md shows to be equivalent), the time it took and every survivor; it fails when a target's score is under its
floor or, with --strict (CI), when a survivor is not listed in docs/testing.md with its reason.

    scripts/mutate.py                     # every target
    scripts/mutate.py wallet migrations   # some of them
    scripts/mutate.py --changed-since origin/main   # the targets whose module or tests changed
    scripts/mutate.py --list              # the targets
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".state" / "mutation"
DOCS = ROOT / "docs" / "testing.md"
# Never linked into a scratch project: its own copies (tests, pytest.ini, the mutated package), git and state.
NOT_LINKED = {".git", ".state", "mutants", "tests", "pytest.ini", "__pycache__", ".pytest_cache"}
DETECTED = ("killed", "timeout", "segfault", "caught by type check")
UNDETECTED = ("survived", "no tests", "suspicious")
# Log lines say what happened; their wording is not behaviour.
NOT_MUTATED = (r"\blog\.(debug|info|warning)\(", r"pulumi\.log\.(info|warn)\(")


@dataclass(frozen=True)
class Target:
    name: str
    what: str
    module: str                 # the file mutated, relative to the project
    tests: tuple[str, ...]      # the tests it is held to
    floor: float = 0.0          # the least mutation score accepted (0: reported only)
    functions: tuple[str, ...] = ()   # "Class.method" or "function" of the module; empty: all of it

    @property
    def package(self) -> str:
        return self.module.split("/")[0]

    def mangled(self, function: str) -> str:
        """mutmut's name of a function of the module (its mutants are this + "__mutmut_<n>")."""
        module = self.module.removesuffix(".py").replace("/", ".")
        cls, _, method = function.rpartition(".")
        return f"{module}.xǁ{cls}ǁ{method}" if cls else f"{module}.x_{method}"

    def chosen(self, mutant: str) -> bool:
        """Whether a mutant (by name) belongs to the functions this target is about."""
        return not self.functions or mutant.partition("__mutmut_")[0] in {self.mangled(f) for f in self.functions}


# Every function that decides whether a message is signed, sent again or taken as landed (wallet), and whether a
# migration runs (migrations), is chosen; what only builds bytes, derives keys or words messages is not.
WALLET_GUARD = (
    # the journal: read, held, saved; an unreadable one is never taken as empty
    "SendJournal.session", "SendJournal.read", "SendJournal.save", "empty_journal", "parse_journal",
    # send once: one intent per fingerprint, an open message settled before anything new is signed
    "fingerprint", "JournaledWallet.send", "JournaledWallet.settle_open", "JournaledWallet._drive",
    "JournaledWallet._settle_others", "JournaledWallet._sign_and_record", "JournaledWallet._broadcast",
    "JournaledWallet._settle", "JournaledWallet._follow_links", "JournaledWallet._update",
    "JournaledWallet.required_balance",
    # may it still land: the replay slot (seqno / query id), its validity and whether the chain used it
    "JournaledWallet._expired_unused", "WalletV4R2.seqno", "WalletV4R2._sign", "WalletV4R2._slot_consumed",
    "HighloadWalletV3.processed", "HighloadWalletV3._allocate_query_id", "HighloadWalletV3._check_fence",
    "HighloadWalletV3._sign", "HighloadWalletV3._slot_consumed",
)
MIGRATIONS_GUARD = (
    # the checksum of a migration and of the set, and the refusal of an edited or unknown applied migration
    "Migration.from_sql", "Migration.from_input", "validate_migration_set", "migration_set_checksum",
    "check_drift", "_read_applied", "_apply_one",
    # what runs, once: the advisory lock, the pending set, the run itself and what it requires first
    "apply_migrations", "_acquire_lock", "pending_migrations", "_require_timescaledb_available",
)

TARGETS = (
    Target("wallet", "the wallet journal and send guard", "chain/wallets.py",
           ("tests/chain/test_wallets.py", "tests/chain/test_double_send.py", "tests/chain/test_liteserver.py"),
           floor=0.90, functions=WALLET_GUARD),
    Target("deploy-journal", "the deployer's journal beside the state and its turn (one sender at a time)",
           "ton_deploy/journal.py", ("tests/providers/test_journal_beside_state.py",), floor=0.90),
    Target("migrations", "migrations: checksums, drift refusal and the advisory lock", "database/migrations.py",
           ("tests/database/test_migrations.py", "tests/database/test_providers.py"), floor=0.90,
           functions=MIGRATIONS_GUARD),
    Target("config-rules", "config rules shared with the policy pack and preflight", "config/rules.py",
           ("tests/unit/test_config.py", "tests/unit/test_config_services.py", "tests/unit/test_policy_rules.py")),
    Target("policy-rules", "the policy pack's rules", "policy/rules.py", ("tests/unit/test_policy_rules.py",)),
    Target("deploy-checks", "the providers' adopt / refuse / deploy decision: checks before any send",
           "ton_deploy/checks.py",
           ("tests/providers/test_ton_contract.py", "tests/providers/test_ton_deployment.py",
            "tests/providers/test_shard_batch.py")),
    Target("deploy-sending", "the providers' one message for what is missing", "ton_deploy/sending.py",
           ("tests/providers/test_ton_contract.py", "tests/providers/test_ton_deployment.py",
            "tests/providers/test_shard_batch.py")),
)
BY_NAME = {t.name: t for t in TARGETS}


@dataclass
class Outcome:
    target: Target
    counts: dict[str, int]
    survivors: list[str]
    seconds: float

    @property
    def detected(self) -> int:
        return sum(self.counts.get(s, 0) for s in DETECTED)

    @property
    def undetected(self) -> int:
        return sum(self.counts.get(s, 0) for s in UNDETECTED)

    equivalent: int = 0          # survivors docs/testing.md shows to be equivalent

    @property
    def score(self) -> float:
        tested = self.detected + self.undetected - self.equivalent
        return self.detected / tested if tested else 0.0


def prepare(target: Target) -> Path:
    """The target's scratch project: its mutmut config, links to what mutmut copies, and a `mutants/` folder
    where everything else of the project is a link."""
    work = SCRATCH / target.name
    mutants = work / "mutants"
    mutants.mkdir(parents=True, exist_ok=True)
    for entry in ROOT.iterdir():
        if entry.name in NOT_LINKED or entry.name == target.package:
            continue
        link = mutants / entry.name
        if not link.is_symlink():
            link.symlink_to(entry)
    for name in (target.package, "tests", "pytest.ini"):   # mutmut copies these from here into mutants/
        link = work / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    mutated_copy = mutants / target.package
    if mutated_copy.is_symlink():   # never mutate through a link into the checkout
        raise SystemExit(f"{mutated_copy} is a link; delete {work} and run again")
    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        f"source_paths={target.package}/\n"
        f"only_mutate={target.module}\n"
        "pytest_add_cli_args_test_selection=\n" + "".join(f"    {t}\n" for t in target.tests)
        + "also_copy=\n    pytest.ini\n"
        + "do_not_mutate_patterns=\n" + "".join(f"    {p}\n" for p in NOT_MUTATED)
        + "use_git_change_detection=false\n")
    return work


def verdicts(work: Path, target: Target) -> dict[str, str] | None:
    """Each mutant of the functions the target is about, by name, and its status ("not checked": not run yet);
    None when mutmut has not made this target's mutants yet."""
    meta = work / "mutants" / f"{target.module}.meta"
    if not meta.exists():
        return None
    from mutmut.stats import status_by_exit_code

    return {name: status_by_exit_code[code] for name, code in sorted(json.loads(meta.read_text())["exit_code_by_key"]
                                                                      .items()) if target.chosen(name)}


def to_test(work: Path, target: Target, survivors_only: bool = False) -> list[str] | None:
    """The names of the target's mutants still to test: not run yet or not detected last time (a test added since
    may kill them; mutmut keeps every verdict and would not run them again unless named); only the undetected ones
    with `survivors_only`. None when mutmut has not made this target's mutants yet."""
    found = verdicts(work, target)
    if found is None:
        return None
    wanted = UNDETECTED if survivors_only else (*UNDETECTED, "not checked")
    return [name for name, status in found.items() if status in wanted]


def run(target: Target, jobs: int, survivors_only: bool = False) -> Outcome:
    work = prepare(target)
    shutil.rmtree(work / "mutants" / "tests", ignore_errors=True)   # mutmut copies the tests afresh
    names = to_test(work, target, survivors_only)
    if names is None and survivors_only:
        raise SystemExit(f"no results kept for target {target.name}: run it first")
    log = work / "mutmut-run.log"
    log.write_text("")
    started = time.monotonic()
    if names is None or names:
        # First run: a pattern per chosen function (no functions: every mutant of the module); later, by name.
        mutmut(work, target, jobs, [f"{target.mangled(f)}__mutmut_*" for f in target.functions]
               if names is None else names, log)
        # Mutants mutmut made anew meanwhile (a chosen function changed since the last run) are tested too.
        fresh = [name for name, status in (verdicts(work, target) or {}).items() if status == "not checked"]
        if fresh:
            mutmut(work, target, jobs, fresh, log)
    counts, survivors = results(work, target)
    return Outcome(target, counts, survivors, time.monotonic() - started)


def mutmut(work: Path, target: Target, jobs: int, mutants: list[str], log: Path) -> None:
    """`mutmut run` in the target's scratch project, on these mutants (names or patterns; none: all of them)."""
    program = Path(sys.executable).parent / "mutmut"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(["nice", str(program), "run", "--max-children", str(jobs), *mutants], cwd=work, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with log.open("a") as out:
        out.write(done.stdout)
    if done.returncode != 0:
        raise SystemExit(f"mutmut failed on target {target.name} (exit {done.returncode}); its output: {log}\n"
                         + done.stdout[-3000:])


def results(work: Path, target: Target) -> tuple[dict[str, int], list[str]]:
    """Verdict counts and the undetected mutants, of the functions the target is about."""
    counts: dict[str, int] = {}
    survivors = []
    for name, status in (verdicts(work, target) or {}).items():
        counts[status] = counts.get(status, 0) + 1
        if status in UNDETECTED:
            survivors.append(f"{name} ({status})")
    return counts, survivors


def show(work: Path, mutant: str) -> str:
    mutmut = Path(sys.executable).parent / "mutmut"
    shown = subprocess.run([str(mutmut), "show", mutant], cwd=work, capture_output=True, text=True)
    return "\n".join(line for line in shown.stdout.splitlines() if line.startswith(("+", "-"))
                     and not line.startswith(("+++", "---")))


MUTANT_NAME = r"`([\w.]+(?:ǁ\w+ǁ\w+|\.x_\w+)__mutmut_\d+)`"


def documented() -> set[str]:
    """Mutant names docs/testing.md lists as survivors with a reason."""
    return set(re.findall(MUTANT_NAME, DOCS.read_text())) if DOCS.exists() else set()


def equivalent() -> set[str]:
    """Mutant names docs/testing.md lists on a line whose reason starts "Equivalent": they behave as the code does,
    so no test can kill them, and the score leaves them out."""
    if not DOCS.exists():
        return set()
    lines = [line for line in DOCS.read_text().splitlines() if re.match(r"- \*\*[^*]+\*\* — Equivalent", line)]
    return {name for line in lines for name in re.findall(MUTANT_NAME, line)}


def changed_targets(since: str) -> list[Target]:
    changed = subprocess.run(["git", "diff", "--name-only", f"{since}...HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    return [t for t in TARGETS if t.module in changed or any(f in changed for f in t.tests)
            or "scripts/mutate.py" in changed]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help=f"targets to run (default: all): {', '.join(BY_NAME)}")
    parser.add_argument("--changed-since", metavar="REV", help="only the targets whose module or tests changed")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATE_JOBS", "2")),
                        help="mutants tested at once (default 2, or MUTATE_JOBS)")
    parser.add_argument("--strict", action="store_true", help="fail on a survivor docs/testing.md does not list")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results: test every mutant again")
    parser.add_argument("--survivors", action="store_true",
                        help="test again only the mutants that survived the last run (after adding tests)")
    parser.add_argument("--report", action="store_true",
                        help="report the results kept from earlier runs (an interrupted one included); run nothing")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args()
    if args.list:
        for t in TARGETS:
            print(f"{t.name:15} {t.module:25} {t.what}")
        return 0
    unknown = [n for n in args.targets if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    chosen = [BY_NAME[n] for n in args.targets] or list(TARGETS)
    if args.changed_since:
        chosen = [t for t in chosen if t in changed_targets(args.changed_since)]
        if not chosen:
            print(f"no target's module or tests changed since {args.changed_since}")
            return 0

    outcomes = []
    for target in chosen:
        if args.fresh:
            shutil.rmtree(SCRATCH / target.name, ignore_errors=True)
        print(f"== {target.name}: {target.what} ({target.module}; {len(target.tests)} test file(s))", flush=True)
        if args.report:
            work = SCRATCH / target.name
            if not (work / "mutants" / f"{target.module}.meta").exists():
                raise SystemExit(f"no results kept for target {target.name}: run scripts/mutate.py {target.name}")
            outcomes.append(Outcome(target, *results(work, target), 0.0))
        else:
            outcomes.append(run(target, args.jobs, args.survivors))

    same = equivalent()
    for o in outcomes:
        o.equivalent = sum(1 for survivor in o.survivors if survivor.split(" ")[0] in same)
    print("\n| target | module | mutants | killed | timeout | survived | no tests | equivalent | not run | score | floor "
          "| time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for o in outcomes:
        c = o.counts
        print(f"| {o.target.name} | {o.target.module} | {sum(c.values())} | {c.get('killed', 0)} | "
              f"{c.get('timeout', 0)} | {c.get('survived', 0)} | {c.get('no tests', 0)} | {o.equivalent} | "
              f"{c.get('not checked', 0)} | {o.score:.1%} | {o.target.floor:.0%} | {o.seconds / 60:.1f} min |")
    known = documented()
    failed = False
    for o in outcomes:
        if o.counts.get("not checked"):
            print(f"\n{o.target.name}: {o.counts['not checked']} mutant(s) not run yet (an interrupted run): the score "
                  "counts the others; run the target again to finish")
            failed = True
        if o.score < o.target.floor:
            print(f"\n{o.target.name}: score {o.score:.1%} is under its floor {o.target.floor:.0%}")
            failed = True
        if o.survivors:
            print(f"\n{o.target.name}: survivors")
        for survivor in o.survivors:
            name = survivor.split(" ")[0]
            listed = "" if name in known else "   [not in docs/testing.md]"
            print(f"  {survivor}{listed}")
            print("    " + show(SCRATCH / o.target.name, name).replace("\n", "\n    "))
            failed |= args.strict and name not in known
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
