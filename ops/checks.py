"""What preflight and verify share: a check result, the pass/fail table, --json, and the stack's config
and chain as the program sees them."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from pulumi import automation as auto

from config import NAMESPACE, SecretReference, StackConfig, read_stack_config


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool                      # False only when the check failed (a skipped check did not fail)
    detail: str
    figures: dict | None = None   # numbers a CI job may read (--json)
    skipped: bool = False         # not run; `detail` says why
    waived: str | None = None     # the operator's reason for accepting the skip (--waive ... --reason ...)

    @property
    def status(self) -> str:
        return "FAIL" if not self.ok else "WAIVED" if self.waived else "SKIP" if self.skipped else "PASS"


class Skipped(Exception):
    """Raised by a check that cannot run here; the message is the reason, printed with SKIP."""


def run_check(name: str, check: Callable[[], tuple[bool, str] | tuple[bool, str, dict]]) -> Check:
    """Run one check; an exception is that check's failure (named), never the end of the report."""
    try:
        return Check(name, *check())
    except Skipped as skip:
        return Check(name, True, str(skip), skipped=True)
    except Exception as error:  # noqa: BLE001 - reported, with its type, as this check's failure
        return Check(name, False, f"{type(error).__name__}: {error}")


def hold_skips(checks: list[Check], strict: bool, waivers: dict[str, str]) -> list[Check]:
    """Where `strict` (mainnet), a skipped check fails unless waived; a waiver is recorded on its check."""
    unknown = set(waivers) - {c.name for c in checks}
    if unknown:
        raise ValueError(f"--waive names no check: {', '.join(sorted(unknown))} "
                         f"(checks: {', '.join(c.name for c in checks)})")
    held = []
    for c in checks:
        if c.skipped and c.name in waivers:
            c = replace(c, ok=True, waived=waivers[c.name])
        elif c.skipped and strict:
            c = replace(c, ok=False, detail=f"skipped: {c.detail}; a skipped check fails here unless waived "
                                            f"(--waive '{c.name}' --reason '<why>')")
        held.append(c)
    return held


def report(title: str, checks: list[Check], as_json: bool) -> int:
    """Print the table (or JSON) and return the exit code: 0 when every check passed."""
    passed = all(c.ok for c in checks)
    if as_json:
        print(json.dumps({"title": title, "passed": passed,
                          "checks": [{**asdict(c), "status": c.status} for c in checks]}, indent=2))
    else:
        width = max(len(c.name) for c in checks)
        print(title)
        for c in checks:
            waived = f" (waived: {c.waived})" if c.waived else ""
            print(f"  {c.status.ljust(4)}  {c.name.ljust(width)}  {c.detail}{waived}")
        skipped = sum(c.skipped and not c.waived for c in checks)
        print(("all checks passed" if passed else f"{sum(not c.ok for c in checks)} check(s) failed")
              + (f" ({skipped} skipped)" if skipped else ""))
    return 0 if passed else 1


def stack_config(stack: auto.Stack) -> StackConfig:
    """The stack's config, decrypted and validated by config/ exactly as the program does."""
    prefix = f"{NAMESPACE}:"
    values = stack.get_all_config()
    raw = {k[len(prefix):]: v.value for k, v in values.items() if k.startswith(prefix)}
    secrets = {k[len(prefix):] for k, v in values.items() if k.startswith(prefix) and v.secret}
    return read_stack_config(stack.name, raw, secrets)


def contracts_args(cfg: StackConfig, work_dir: Path):
    """The contracts' arguments as the program builds them for this stack (paths against its project)."""
    from ton_deploy.plan import TonsuranceContractsArgs

    return TonsuranceContractsArgs.from_stack_config(cfg, str(work_dir), os.environ.get("PULUMI_BACKEND_URL"))


def deployer_words(cfg: StackConfig) -> str:
    """The deployer mnemonic: from config, or read from Secrets Manager (mainnet) the way the providers read it."""
    from ton_deploy.mnemonic import mnemonic_inputs, resolve_deployer_mnemonic

    source = cfg.ton.deployer_mnemonic
    return resolve_deployer_mnemonic(mnemonic_inputs(source if isinstance(source, SecretReference) else source.value))
