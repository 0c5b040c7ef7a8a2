"""The policy pack (policy/) through the real engine: the CLI loads it through our language host's RunPlugin,
and a mandatory violation stops `preview` with the rule's message.

- the local stack (local chain) with the pack's default, mandatory levels ("mainnet rules on"): a compliant
  stack passes; one whose admin is the deployer wallet is stopped; with policy/advisory.json it only warns.
- a one-Deployment program (tests/e2e/policy_workload, real Kubernetes provider rendering to a folder): an
  image `:latest` or a container without probes is stopped; a pinned, hardened one passes.
"""
from __future__ import annotations

import shutil

import pytest
from pulumi import automation as auto

from chain.wallets import deployer_wallet_addresses
from tests.e2e.harness import ROOT, TOOLS, engine_env

pytestmark = pytest.mark.e2e

POLICY = str(ROOT / "policy")
ADVISORY = str(ROOT / "policy" / "advisory.json")


def preview_with_policy(stack: auto.Stack, *configs: str) -> str:
    lines: list[str] = []
    stack.preview(policy_packs=[POLICY], policy_pack_configs=list(configs) or None, on_output=lines.append)
    return "".join(lines)


def stopped_by_policy(stack: auto.Stack) -> str:
    with pytest.raises(auto.CommandError) as info:
        preview_with_policy(stack)
    return str(info.value)


def test_local_stack_compliant_passes_and_deployer_admin_is_stopped(local_stack):
    copy = local_stack
    output = preview_with_policy(copy.stack)
    assert "tonsurance@v1.0.0" in output  # the pack ran (the engine lists it under Policies)
    assert "mandatory" not in output.lower()

    mnemonic = copy.stack.get_config("tonsurance:deployerMnemonic").value
    deployer = deployer_wallet_addresses(mnemonic)["wallet_v4r2"].to_str(is_user_friendly=True, is_test_only=True)
    copy.stack.remove_config("tonsurance:adminMnemonic")   # the local admin key must be the admin's wallet
    copy.set_config("tonsurance:adminAddress", deployer)
    message = stopped_by_policy(copy.stack)
    assert "contract-admin-is-multisig" in message
    assert "is the deployer's wallet_v4r2 address; the admin must be the multisig" in message
    assert mnemonic.split()[0] not in message.split()  # the rule read the secret; it never shows it

    # Off mainnet the same rule is advisory: the preview passes and still names the problem.
    advisory = preview_with_policy(copy.stack, ADVISORY)
    assert "is the deployer's wallet_v4r2 address" in advisory


@pytest.fixture
def workload_stack(project_dir):
    project_dir.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "e2e" / "policy_workload" / "__main__.py", project_dir / "__main__.py")
    (project_dir / "Pulumi.yaml").write_text(
        "name: policy-workload\nruntime:\n  name: python\n  options:\n"
        f"    virtualenv: {ROOT / '.venv'}\n")
    (project_dir / ".state" / "pulumi").mkdir(parents=True)
    workspace = auto.LocalWorkspace(work_dir=str(project_dir), pulumi_command=auto.PulumiCommand(root=str(TOOLS)),
                                    env_vars=engine_env(project_dir))
    stack = auto.Stack.create("test", workspace)
    stack.set_config("renderTo", auto.ConfigValue(str(project_dir / "manifests")))
    stack.set_config("probes", auto.ConfigValue("true"))
    stack.set_config("image", auto.ConfigValue("ghcr.io/tonsurance/backend:1.4.2"))
    return stack


def test_workload_rules_stop_latest_image_and_missing_probes(workload_stack):
    assert "tonsurance@v1.0.0" in preview_with_policy(workload_stack)

    workload_stack.set_config("image", auto.ConfigValue("ghcr.io/tonsurance/backend:latest"))
    message = stopped_by_policy(workload_stack)
    assert "images-pinned" in message and "image must pin a version" in message

    workload_stack.set_config("image", auto.ConfigValue("ghcr.io/tonsurance/backend:1.4.2"))
    workload_stack.set_config("probes", auto.ConfigValue("false"))
    message = stopped_by_policy(workload_stack)
    assert "workloads-hardened" in message and "lacks livenessProbe, readinessProbe" in message
