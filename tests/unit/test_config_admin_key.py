"""tonsurance:adminMnemonic: the local stack's own admin key (localnet only), whose wallet is the admin."""
from __future__ import annotations

import os

import pytest
from pytoniq_core.crypto.keys import mnemonic_new

from chain.wallets import WalletKey, WalletV4R2
from tests.support import SECRETS, error_for, parse, raw_config
from tests.unit.test_config import echoes_mnemonic, invalid_mnemonic

ADMIN_WORDS = " ".join(mnemonic_new(24))
ADMIN = WalletV4R2(None, WalletKey.from_mnemonic(ADMIN_WORDS), os.devnull).address  # type: ignore[arg-type]
WITH_KEY = SECRETS | {"adminMnemonic"}


def local(**overrides):
    return raw_config(**{"adminAddress": ADMIN.to_str(is_test_only=True), "adminMnemonic": ADMIN_WORDS, **overrides})


def test_the_admin_key_is_kept_secret_and_must_be_the_admins_wallet():
    cfg = parse(local(), WITH_KEY)
    assert cfg.ton.admin_mnemonic.value == ADMIN_WORDS and ADMIN_WORDS not in repr(cfg)
    assert parse(raw_config()).ton.admin_mnemonic is None            # without it: the admin is a multisig
    err = error_for(raw_config(adminMnemonic=ADMIN_WORDS), WITH_KEY)  # another adminAddress
    assert err.key == "tonsurance:adminAddress" and "must be the wallet of tonsurance:adminMnemonic" in str(err)
    assert not echoes_mnemonic(str(err), ADMIN_WORDS)


@pytest.mark.parametrize("problem, key, message", [
    ("plaintext", "tonsurance:adminMnemonic", "must be a secret"),
    ("invalid", "tonsurance:adminMnemonic", "not a valid 24-word TON mnemonic"),
    ("keeper", "tonsurance:keeperAddresses[1]", "is the admin address"),
    ("testnet", "tonsurance:adminMnemonic", "is localnet only"),
])
def test_a_bad_admin_key_is_refused_by_name(problem, key, message):
    if problem == "plaintext":
        err = error_for(local(), SECRETS)
    elif problem == "invalid":
        err = error_for(local(adminMnemonic=invalid_mnemonic(ADMIN_WORDS)), WITH_KEY)
    elif problem == "keeper":
        err = error_for(local(keeperAddresses=f'["{raw_config()["treasuryAddress"]}", "{ADMIN.to_str()}"]'),
                        WITH_KEY)
    else:
        err = error_for(raw_config("testnet", adminAddress=ADMIN.to_str(is_test_only=True),
                                   adminMnemonic=ADMIN_WORDS), WITH_KEY)
    assert err.key == key and message in str(err)
    assert not echoes_mnemonic(str(err), ADMIN_WORDS)
