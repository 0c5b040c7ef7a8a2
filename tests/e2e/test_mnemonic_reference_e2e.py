"""The deployer mnemonic by reference through the real engine.

1. A copy of the `local` stack that names the mnemonic's Secrets Manager id (served by moto on loopback)
   instead of holding it deploys the contracts, and neither the exported state (`--show-secrets`), the state
   file nor the engine's output holds any word of the mnemonic.
2. A mainnet stack that holds the mnemonic as a Pulumi secret stops at `pulumi preview` with a message
   naming tonsurance:deployerMnemonicSecretId, before any resource is registered.
"""
from __future__ import annotations

import json
import re
import secrets
import subprocess
from pathlib import Path

import pytest
from pulumi import automation as auto
from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_is_valid
from pytoniq_core.crypto.keys import words as BIP39_WORDS

from contracts.policy_router import PolicyRouter
from resource_types import TON_RESOURCES
from tests.e2e.harness import ROOT, StackCopy, stack_copy
from tests.moto_server import REGION, moto_endpoint, moto_environment, secrets_manager  # noqa: F401
from tests.support import mnemonic_leaks

pytestmark = pytest.mark.e2e

SECRET_ID = "tonsurance/local/deployer-mnemonic"


def distinctive_mnemonic(avoid: str = "") -> str:
    """A valid TON mnemonic none of whose words occurs in the project's files, whose names (resource names,
    kinds, paths) are what the state's values are made of, nor in `avoid` (the stack's other secrets, which
    the exported state shows decrypted): any of its words found in a state value leaked."""
    tracked = subprocess.run(["git", "grep", "-I", "-h", "-o", "-i", "-E", "[a-z]+", "--", "."], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    allowed = sorted(set(BIP39_WORDS) - set(tracked.lower().split()) - set(re.findall(r"[a-z]+", avoid)))
    assert len(allowed) >= 200, f"only {len(allowed)} BIP39 words are absent from the project's files"
    while True:
        candidate = [secrets.choice(allowed) for _ in range(24)]
        if mnemonic_is_valid(candidate):
            return " ".join(candidate)


def values(node) -> list[str]:
    """Every string value of a JSON document (keys are the engine's and the providers' fixed names)."""
    if isinstance(node, dict):
        return [v for item in node.values() for v in values(item)]
    if isinstance(node, list):
        return [v for item in node for v in values(item)]
    return [node] if isinstance(node, str) else []


def occurrences(texts: list[str], mnemonic: str) -> list[str]:
    """The mnemonic's words that occur as whole words in any of the texts."""
    return [w for w in mnemonic.split() if any(re.search(rf"\b{w}\b", t) for t in texts)]


def test_local_stack_with_the_mnemonic_by_reference_keeps_every_word_out_of_state(local_stack, moto_endpoint):
    stack = local_stack
    # the stack's other secrets (the local admin's and keepers' keys) are in the same state: the deployer's words
    # must not repeat one of theirs
    others = " ".join(v.value for k, v in stack.stack.get_all_config().items() if v.secret)
    mnemonic = distinctive_mnemonic(avoid=others)
    stack.stack.workspace.env_vars.update(moto_environment(moto_endpoint))
    with pytest.MonkeyPatch.context() as env:
        for key, value in moto_environment(moto_endpoint).items():
            env.setenv(key, value)
        secrets_manager().create_secret(Name=SECRET_ID, SecretString=mnemonic)
    stack.stack.remove_config("tonsurance:deployerMnemonic")
    stack.set_config("tonsurance:deployerMnemonicSecretId", SECRET_ID)
    stack.set_config("tonsurance:awsRegion", REGION)

    lines: list[str] = []
    stack.stack.up(on_output=lines.append)
    out = stack.outputs()
    chain = stack.localnet()
    router = PolicyRouter(Address(out["policy_router_address"]))
    assert router.get_shard_count(chain.run_get_method) == 16
    assert all(chain.account(Address(s)).status == "active" for s in out["policy_shard_addresses"])
    # every contract in one message, signed with the secret's words; the local admin key adds the keepers
    assert stack.external_messages() == 2

    exported = stack.stack.export_stack().deployment  # --show-secrets
    ours = [r for r in exported["resources"] if r["type"] in TON_RESOURCES]
    assert len(ours) == 11
    assert all(r["inputs"]["deployer_mnemonic_ref"] == {"secret_id": SECRET_ID, "region": REGION} for r in ours)
    assert all(r["inputs"].get("deployer_mnemonic") is None for r in ours)
    assert occurrences(values(exported), mnemonic) == []
    assert occurrences(values(json.loads(stack.state_file_text())), mnemonic) == []
    assert occurrences(values(json.loads(journal_file(stack).read_text())), mnemonic) == []
    assert mnemonic_leaks("\n".join(lines), mnemonic) == []

    stack.stack.up(expect_no_changes=True, on_output=lambda _line: None)


def journal_file(stack: StackCopy) -> Path:
    return stack.work_dir / ".state" / "pulumi" / ".tonsurance" / "journal" / "local-deployer.json"


def mainnet_address(seed: int) -> str:
    return Address((0, bytes([seed]) * 32)).to_str(is_user_friendly=True, is_bounceable=True, is_test_only=False)


def test_mainnet_refuses_the_mnemonic_as_a_pulumi_secret_at_preview(project_dir):
    copy = stack_copy(project_dir, "mainnet")
    mnemonic = distinctive_mnemonic()
    copy.set_config("tonsurance:deployerMnemonic", mnemonic, secret=True)
    copy.set_config("tonsurance:databasePassword", "a-database-password", secret=True)
    for key, seed in (("adminAddress", 1), ("treasuryAddress", 2), ("claimsProcessorAddress", 3)):
        copy.set_config(f"tonsurance:{key}", mainnet_address(seed))
    copy.set_config("tonsurance:keeperAddresses[0]", mainnet_address(4), path=True)

    def refusal() -> str:
        with pytest.raises(auto.CommandError) as failure:
            copy.stack.preview(on_output=lambda _line: None)
        return str(failure.value)

    both = refusal()  # Pulumi.mainnet.yaml names the secret id; the words were added beside it
    assert "config tonsurance:deployerMnemonicSecretId: is set together with tonsurance:deployerMnemonic" in both
    copy.stack.remove_config("tonsurance:deployerMnemonicSecretId")
    message = refusal()
    assert "config tonsurance:deployerMnemonicSecretId: is required on mainnet" in message
    assert "pulumi config rm deployerMnemonic" in message
    assert mnemonic_leaks(both + message, mnemonic) == []
    assert not list((Path(copy.work_dir) / ".state").rglob("journal/*"))  # nothing was about to be sent
