"""The policy pack (policy/) through the real engine: the CLI loads it through our language host's RunPlugin,
and a mandatory violation stops `preview` with the rule's message.

- the local stack (local chain) with the pack's default, mandatory levels ("mainnet rules on"): a compliant
  stack passes; one whose admin is the deployer wallet is stopped; with policy/advisory.json it only warns.
- a one-Deployment program (tests/e2e/policy_workload, real Kubernetes provider rendering to a folder): an
  image `:latest` or a container without probes is stopped; a pinned, hardened one passes.
- a copy of the mainnet stack, set up as Pulumi.mainnet.yaml says (KMS secrets provider, the deployer mnemonic
  in Secrets Manager: both served by moto on loopback; mainnet's liteserver config, which a preview never
  dials), its composition root cut to the TON part (tests/e2e/policy_mainnet: the AWS provider plugin may be
  missing here): the mainnet rules run on its mainnet resources, the compliant stack passes every mandatory rule
  (its contracts are protected: the pack reads the engine's `protect`), and an admin that is the deployer's
  wallet is stopped, the words read from Secrets Manager.
"""
from __future__ import annotations

import json
import shutil
import uuid

import boto3
import pytest
from pulumi import automation as auto
from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_new

from chain.wallets import deployer_wallet_addresses
from resource_types import TON_RESOURCES
from tests.e2e.harness import ROOT, TOOLS, StackCopy, engine_env, stack_copy
from tests.moto_server import REGION, moto_endpoint, moto_environment, secrets_manager  # noqa: F401
from tests.support import OIDC_ARN, database_ca, mnemonic_leaks, network_config, raw_config

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


def mainnet_address(seed: int) -> str:
    return Address((0, bytes([seed]) * 32)).to_str(is_user_friendly=True, is_bounceable=True, is_test_only=False)


@pytest.fixture
def mainnet_stack(project_dir, tmp_path, moto_endpoint) -> tuple[StackCopy, str]:
    """A copy of the mainnet stack with every key an operator sets (Pulumi.mainnet.yaml), AWS served by moto."""
    aws = moto_environment(moto_endpoint)
    mnemonic = " ".join(mnemonic_new(24))
    run = uuid.uuid4().hex[:8]
    with pytest.MonkeyPatch.context() as patch:
        for key, value in aws.items():
            patch.setenv(key, value)
        kms = boto3.client("kms", region_name=REGION)
        alias = f"alias/tonsurance-mainnet-{run}"
        kms.create_alias(AliasName=alias, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
        secret_id = f"tonsurance/mainnet-{run}/deployer-mnemonic"
        secrets_manager().create_secret(Name=secret_id, SecretString=mnemonic)
    copy = stack_copy(project_dir, "mainnet", secrets_provider=f"awskms://{alias}?region={REGION}", env=aws)
    shutil.copy(ROOT / "tests" / "e2e" / "policy_mainnet" / "__main__.py", copy.work_dir / "__main__.py")
    copy.set_config("tonsurance:deployerMnemonicSecretId", secret_id)
    copy.set_config("tonsurance:databasePassword", "a-database-password", secret=True)
    copy.set_config("tonsurance:eksOidcProviderArn", OIDC_ARN)
    release = raw_config("mainnet")     # what the release sets: every image by digest, and the deploy role
    for key in ("images", "backupJobImage", "deployRoleArn"):
        copy.set_config(f"tonsurance:{key}", release[key])
    for name, image in json.loads(release["services"])["exporterImages"].items():
        copy.set_config(f"tonsurance:services.exporterImages.{name}", image, path=True)
    for key, seed in (("adminAddress", 1), ("treasuryAddress", 2), ("claimsProcessorAddress", 3)):
        copy.set_config(f"tonsurance:{key}", mainnet_address(seed))
    copy.set_config("tonsurance:keeperAddresses[0]", mainnet_address(4), path=True)
    target = copy.work_dir / "config" / "mainnet-global.config.json"
    shutil.copy(network_config(tmp_path, "mainnet"), target)
    shutil.copy(database_ca(), target.parent / "mainnet-database-ca.pem")  # the operator's database CA bundle
    return copy, mnemonic


def test_mainnet_rules_run_on_a_mainnet_stack_and_stop_a_deployer_admin(mainnet_stack):
    copy, mnemonic = mainnet_stack
    assert copy.stack.get_config("tonsurance:network").value == "mainnet"
    lines: list[str] = []
    preview = copy.stack.preview(policy_packs=[POLICY], on_output=lines.append, diff=False)
    output = "".join(lines)
    assert "tonsurance@v1.0.0" in output and "mandatory" not in output.lower()   # every rule passed...
    # ...on the real thing: mainnet's 9 contracts, 256 shards in 4 batches and the deployment that sends them,
    # each protected by the component (the pack reads the engine's `protect`: read wrongly, this preview stops).
    assert all(t in output for t in TON_RESOURCES) and "contracts-policy-shards-192-255" in output
    assert preview.change_summary["create"] == 16

    copy.set_config("policyTest:unprotect", "true")     # one contract registered without protect: stopped
    message = stopped_by_policy(copy.stack)
    assert "ton-contracts-protected" in message and "contracts-pricing-oracle is not protected" in message
    assert "contracts-policy-router is not protected" not in message
    copy.stack.remove_config("policyTest:unprotect")

    deployer = deployer_wallet_addresses(mnemonic)["highload_wallet_v3"]
    copy.set_config("tonsurance:adminAddress", deployer.to_str(is_user_friendly=True, is_test_only=False))
    message = stopped_by_policy(copy.stack)
    assert "contract-admin-is-multisig" in message and "[mandatory]" in message
    assert "is the deployer's highload_wallet_v3 address; the admin must be the multisig" in message
    assert mnemonic_leaks(message, mnemonic) == []   # the pack read the words from Secrets Manager; never shows them
