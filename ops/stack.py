"""What every ops command shares: the project's stacks through the Automation API, with our toolchain."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pulumi import automation as auto

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".tools"
SECRET = "[secret]"  # what records and reports show instead of a secret output


def open_stack(name: str, work_dir: Path = ROOT, env: dict[str, str] | None = None) -> auto.Stack:
    """The existing stack `name` of the project in `work_dir`, driven by the CLI that scripts/bootstrap built.
    The backend and secrets passphrase come from the environment (the Makefile sets them for `local`)."""
    command = auto.PulumiCommand(root=str(TOOLS)) if (TOOLS / "bin" / "pulumi").exists() else None
    workspace = auto.LocalWorkspace(work_dir=str(work_dir), pulumi_command=command,
                                    env_vars={**tool_env(), **(env or {})})
    return auto.Stack.select(name, workspace)


def tool_env() -> dict[str, str]:
    """Our toolchain first on PATH, as scripts/env.sh sets it."""
    return {
        "PATH": f"{TOOLS / 'bin'}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "PULUMI_HOME": os.environ.get("PULUMI_HOME", str(TOOLS / "pulumi-home")),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


def plain_outputs(stack: auto.Stack) -> dict[str, Any]:
    """The stack outputs with every secret output replaced by SECRET."""
    return {name: SECRET if out.secret else out.value for name, out in stack.outputs().items()}


def plain_config(stack: auto.Stack, namespace: str = "tonsurance") -> dict[str, Any]:
    """The stack's `namespace:*` config without secrets (keys without the prefix, structured values parsed)."""
    import json

    plain = {}
    for key, value in stack.get_all_config().items():
        if not key.startswith(f"{namespace}:") or value.secret:
            continue
        try:
            plain[key.split(":", 1)[1]] = json.loads(value.value)
        except (TypeError, ValueError):
            plain[key.split(":", 1)[1]] = value.value
    return plain
