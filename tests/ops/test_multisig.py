"""`python -m ops multisig` against the official multisig v2 on localnet (the real TVM): 5 signers, threshold 3.

Orders are created by the proposer or a signer, approved with keys read from files or Secrets Manager, and
execute by themselves at the threshold; the chain itself refuses expired orders and strangers' approvals."""
from __future__ import annotations

import base64
import json

import pytest
from pytoniq_core import Address

from chain.wallets import Transfer
from contracts import multisig as multisig_module
from contracts.base import ArtifactError, load_artifact
from contracts.multisig import (
    MULTISIG_V2_CODE_HASH, Multisig, MultisigOrder, build_approve_body, multisig_code, order_address, order_code,
)
from contracts.pricing_oracle import PricingOracle
from contracts.multi_tranche_vault import MultiTrancheVault
from ops.__main__ import build_parser
from ops.multisig import run
from ton_deploy.multisig_orders import APPROVE_VALUE
from tests.ops.multisig_world import THRESHOLD, MultisigWorld, make_world

NEW_KEEPER = Address("0:" + "ab" * 32)


@pytest.fixture
def world(tmp_path) -> MultisigWorld:
    return make_world(tmp_path)


def cli(world: MultisigWorld, *argv: str) -> int:
    args = build_parser().parse_args(["multisig", *argv[:1], "--stack", "local", *argv[1:]])
    return run(args, world.session)


def keeper_text(world: MultisigWorld, address: Address) -> str:
    return world.session.fmt(address)


def is_keeper(world: MultisigWorld, address: Address) -> bool:
    return PricingOracle(world.contracts.oracle).is_keeper(world.client.run_get_method, address)


def multisig_data(world: MultisigWorld):
    return Multisig(world.multisig).get_multisig_data(world.client.run_get_method)


def order_data(world: MultisigWorld, seqno: int):
    return MultisigOrder(order_address(world.multisig, seqno)).get_order_data(world.client.run_get_method)


def approve(world: MultisigWorld, signer: int, seqno: int = 0, *extra: str) -> int:
    return cli(world, "approve", str(seqno), "--key-file", str(world.signers[signer].key_file), "--yes", *extra)


# ---- the official code ----------------------------------------------------------------------------------

def test_vendored_code_is_the_official_build():
    assert multisig_code().hash.hex() == MULTISIG_V2_CODE_HASH
    # the order code is the one library the multisig code references (each order's StateInit holds that reference)
    assert multisig_module._library_hashes(multisig_code()) == {order_code().hash.hex()}


@pytest.mark.parametrize("name", ["Multisig", "Order"])
def test_tampered_vendored_code_is_refused(tmp_path, monkeypatch, name):
    vendored = json.loads(multisig_module.VENDOR_FILE.read_text())
    other = base64.b64encode(load_artifact("PricingOracle").code.to_boc())
    vendored["contracts"][name]["codeBoc"] = other.decode()
    (tmp_path / "multisig_v2.json").write_text(json.dumps(vendored))
    monkeypatch.setattr(multisig_module, "VENDOR_FILE", tmp_path / "multisig_v2.json")
    multisig_module._vendored.cache_clear()
    try:
        with pytest.raises(ArtifactError, match="refusing it"):
            multisig_code()
    finally:
        multisig_module._vendored.cache_clear()


# ---- the acceptance flow ----------------------------------------------------------------------------------

def test_two_approvals_do_not_execute_the_third_does(world, capsys):
    assert cli(world, "new", "add-keeper", NEW_KEEPER.to_str(), "--key-file", str(world.proposer.key_file),
               "--yes") == 0
    out = capsys.readouterr().out
    assert "created order #0" in out
    assert f"add_keeper(query_id=0, keeper={keeper_text(world, NEW_KEEPER)})" in out
    assert f"oracle keeper {keeper_text(world, NEW_KEEPER)}: no -> yes" in out    # the effect, computed first
    assert order_data(world, 0).approvals_num == 0                               # a proposer does not approve

    for signer, approvals in ((0, 1), (3, 2)):
        assert approve(world, signer) == 0
        data = order_data(world, 0)
        assert (data.approvals_num, data.executed) == (approvals, False)
        assert not is_keeper(world, NEW_KEEPER)
    assert cli(world, "list") == 0
    assert f"#0 open: 2/{THRESHOLD} approvals (signers 0, 3)" in capsys.readouterr().out

    assert approve(world, 4) == 0
    assert "reached its threshold and was executed" in capsys.readouterr().out
    assert order_data(world, 0).executed and is_keeper(world, NEW_KEEPER)
    assert is_keeper(world, world.keeper)                                        # nothing else changed
    assert cli(world, "list") == 0
    assert "no open orders" in capsys.readouterr().out


def test_a_rerun_never_creates_a_second_order(world, capsys):
    unpause = ["new", "unpause", "--key-file", str(world.proposer.key_file), "--yes"]
    assert cli(world, *unpause) == 0
    assert cli(world, *unpause) == 0
    assert "already open, not created again: order #0" in capsys.readouterr().out
    # a signer asking for the same change finds the same order too (its new_order would be a second one)
    assert cli(world, "new", "unpause", "--key-file", str(world.signers[1].key_file), "--yes") == 0
    assert multisig_data(world).next_order_seqno == 1
    for signer in range(THRESHOLD):
        assert approve(world, signer) == 0
    assert not MultiTrancheVault(world.contracts.vault).is_paused(world.client.run_get_method)
    capsys.readouterr()
    assert cli(world, *unpause) == 0                        # done: the contracts show it, nothing to order
    assert "no order needed" in capsys.readouterr().out
    assert multisig_data(world).next_order_seqno == 1


def test_a_signers_new_order_is_its_approval(world):
    assert cli(world, "new", "set-max-staleness", "600", "--key-file", str(world.signers[2].key_file), "--yes") == 0
    assert order_data(world, 0).approved_by == (2,)
    assert approve(world, 2) == 1                           # the same signer twice is refused by the tool


def test_an_expired_order_is_refused(world, capsys):
    assert cli(world, "new", "add-keeper", NEW_KEEPER.to_str(), "--expires-in", "60",
               "--key-file", str(world.proposer.key_file), "--yes") == 0
    assert approve(world, 0) == 0 and approve(world, 1) == 0
    world.client.advance_time(120)
    assert approve(world, 2) == 1
    assert "order #0 is expired" in capsys.readouterr().err
    # the chain refuses it too: the order rejects an approval after its expiry, whoever sends it
    signer = world.signers[2].wallet(world.client, world.session.journal_dir + "/direct.json")
    signer.send([Transfer(order_address(world.multisig, 0), APPROVE_VALUE, build_approve_body(2))])
    data = order_data(world, 0)
    assert (data.approvals_num, data.executed) == (2, False)
    assert not is_keeper(world, NEW_KEEPER)
    assert cli(world, "list", "--all") == 0
    assert "#0 expired" in capsys.readouterr().out


def test_a_non_signers_approval_is_refused(world, capsys):
    assert cli(world, "new", "add-keeper", NEW_KEEPER.to_str(), "--key-file", str(world.proposer.key_file),
               "--yes") == 0
    for stranger in (world.proposer, world.outsider):
        assert cli(world, "approve", "0", "--key-file", str(stranger.key_file), "--yes") == 1
        assert "is not a signer of the multisig" in capsys.readouterr().err
    # sent anyway, with a signer's index: the order refuses it on chain
    outsider = world.outsider.wallet(world.client, world.session.journal_dir + "/direct.json")
    outsider.send([Transfer(order_address(world.multisig, 0), APPROVE_VALUE, build_approve_body(0))])
    assert order_data(world, 0).approvals_num == 0
    # and a stranger cannot create orders at all
    assert cli(world, "new", "unpause", "--key-file", str(world.outsider.key_file), "--yes") == 1
    assert "neither a signer nor a proposer" in capsys.readouterr().err
    assert multisig_data(world).next_order_seqno == 1


def test_an_order_whose_effect_fails_is_never_sent(world, capsys):
    # the oracle refuses a staleness of 0 (420): the private run shows it, nothing reaches the multisig
    assert cli(world, "new", "set-max-staleness", "0", "--key-file", str(world.proposer.key_file), "--yes") == 1
    assert "would not have the intended effect, so nothing was sent" in capsys.readouterr().err
    assert multisig_data(world).next_order_seqno == 0


def test_show_decodes_every_message_and_its_effect(tmp_path, capsys):
    world = make_world(tmp_path, vault_paused=False)
    new_oracle = Address("0:" + "0d" * 32)
    assert cli(world, "new", "set-oracle", new_oracle.to_str(), "--key-file", str(world.proposer.key_file),
               "--yes") == 0
    capsys.readouterr()
    assert cli(world, "show", "0") == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()[:2] in ("1.", "2.", "3.", "4.")]
    assert [line.split(": ", 1)[1].split("(")[0] for line in lines] == ["pause", "set_oracle", "set_oracle"]
    assert [line.split(" to ")[1].split()[0] for line in lines] == ["vault", "vault", "router"]
    effect = out.split("effect")[1]
    assert f"vault oracle: {world.session.fmt(world.contracts.oracle)} -> {world.session.fmt(new_oracle)}" in effect
    assert "vault paused: no -> yes" in effect
    assert cli(world, "show", "0", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["executes"] is True and shown["approvals"] == 0 and len(shown["actions"]) == 3
    assert cli(world, "show", "7") == 1


def test_a_keeper_rotation_and_new_bounds(world, capsys):
    joining = Address("0:" + "ac" * 32)
    assert cli(world, "new", "set-keepers", f"{NEW_KEEPER.to_str()},{joining.to_str()}",
               "--key-file", str(world.signers[0].key_file), "--yes") == 0
    out = capsys.readouterr().out
    assert "replace_keeper(" in out and "add_keeper(" in out       # the deploy-time keeper leaves, two join
    for signer in (1, 2):
        assert approve(world, signer) == 0
    keepers = PricingOracle(world.contracts.oracle).get_keepers(world.client.run_get_method)
    assert set(keepers) == {NEW_KEEPER, joining}
    assert cli(world, "new", "set-price-bounds", "depeg", "5000000", "90000000",
               "--key-file", str(world.signers[0].key_file), "--yes") == 0
    assert "oracle bounds depeg: 1000000..1000000000 -> 5000000..90000000" in capsys.readouterr().out
    assert cli(world, "new", "set-price-bounds", "flood", "1", "2", "--key-file", str(world.signers[0].key_file),
               "--yes") == 1
    assert "'flood' is not a coverage type" in capsys.readouterr().err


def test_keys_are_never_printed(world, capsys, tmp_path):
    assert cli(world, "new", "unpause", "--key-file", str(world.signers[0].key_file), "--yes") == 0
    bad = tmp_path / "bad.key"
    bad.write_text(" ".join(world.signers[1].words.split()[:23]) + " abandon\n")
    assert cli(world, "approve", "0", "--key-file", str(bad), "--yes") == 1
    assert cli(world, "approve", "0", "--key-file", str(tmp_path / "missing.key"), "--yes") == 1
    captured = capsys.readouterr()
    assert "does not hold a valid 24-word TON mnemonic" in captured.err and "cannot read the key file" in captured.err
    printed = " ".join(f"{captured.out} {captured.err}".split())
    for party in (world.signers[0], world.signers[1]):
        words = party.words.split()   # any three words in a row (single words are common English ones)
        assert not any(" ".join(words[i:i + 3]) in printed for i in range(len(words) - 2))


def test_approve_with_a_key_from_secrets_manager(world, capsys, monkeypatch):
    from moto.server import ThreadedMotoServer
    import boto3

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        boto3.client("secretsmanager", region_name="eu-central-1").create_secret(
            Name="tonsurance/local/signer-1", SecretString=world.signers[1].words)
        assert cli(world, "new", "unpause", "--key-file", str(world.signers[0].key_file), "--yes") == 0
        assert cli(world, "approve", "0", "--key-secret-id", "tonsurance/local/signer-1",
                   "--aws-region", "eu-central-1", "--yes") == 0
        assert order_data(world, 0).approved_by == (0, 1)
        assert cli(world, "approve", "0", "--key-secret-id", "tonsurance/local/nobody", "--aws-region",
                   "eu-central-1", "--yes") == 1
        err = capsys.readouterr().err
        assert "cannot read the signer key from Secrets Manager secret 'tonsurance/local/nobody'" in err
        assert " ".join(world.signers[1].words.split()[:3]) not in " ".join(err.split())
    finally:
        server.stop()
