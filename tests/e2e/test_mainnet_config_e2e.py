"""Mainnet config rules through the real engine, before any resource: on a copy of the mainnet stack (file
backend, passphrase provider) with every key set, a testnet liteserver config is refused, and with mainnet's
the passphrase secrets provider is refused; both errors name what to change."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pulumi import automation as auto
from pytoniq_core import Address

from config.services import EXPORTER_IMAGES
from tests.e2e.harness import stack_copy
from tests.support import BACKUP_IMAGE, DEPLOY_ROLE_ARN, DIGEST, IMAGES, OIDC_ARN, database_ca, network_config

pytestmark = pytest.mark.e2e


def mainnet_address(seed: int) -> str:
    return Address((0, bytes([seed]) * 32)).to_str(is_user_friendly=True, is_bounceable=True, is_test_only=False)


def refusal(copy) -> str:
    with pytest.raises(auto.CommandError) as failure:
        copy.stack.preview(on_output=lambda _line: None)
    return str(failure.value)


def test_mainnet_network_config_and_secrets_provider(project_dir, tmp_path):
    copy = stack_copy(project_dir, "mainnet")
    copy.set_config("tonsurance:databasePassword", "a-database-password", secret=True)
    copy.set_config("tonsurance:eksOidcProviderArn", OIDC_ARN)
    for key, seed in (("adminAddress", 1), ("treasuryAddress", 2), ("claimsProcessorAddress", 3)):
        copy.set_config(f"tonsurance:{key}", mainnet_address(seed))
    copy.set_config("tonsurance:keeperAddresses[0]", mainnet_address(4), path=True)
    for key, image in IMAGES.items():  # by digest on mainnet, as the release sets them
        copy.set_config(f"tonsurance:images.{key}", image + DIGEST, path=True)
    for name, image in EXPORTER_IMAGES.items():
        copy.set_config(f"tonsurance:services.exporterImages.{name}", image + DIGEST, path=True)
    copy.set_config("tonsurance:backupJobImage", BACKUP_IMAGE + DIGEST)
    copy.set_config("tonsurance:deployRoleArn", DEPLOY_ROLE_ARN)
    target = Path(copy.work_dir) / "config" / "mainnet-global.config.json"
    target.parent.mkdir(parents=True, exist_ok=True)

    shutil.copy(network_config(tmp_path, "testnet"), target)
    message = refusal(copy)
    assert "config tonsurance:liteserverConfig:" in message and "is the config of testnet, but the stack asks for mainnet" in message
    assert "tonsurance:platform:Platform" not in message  # refused before any resource

    shutil.copy(network_config(tmp_path, "mainnet"), target)
    message = refusal(copy)  # the operator has not put the database's CA bundle where Pulumi.mainnet.yaml says
    assert "config tonsurance:database.sslRootCert: cannot be read: config/mainnet-database-ca.pem" in message
    assert "tonsurance:platform:Platform" not in message

    shutil.copy(database_ca(), target.parent / "mainnet-database-ca.pem")
    message = refusal(copy)
    assert "the stack's secrets provider must be a KMS one" in message and "'passphrase'" in message
    assert "tonsurance:platform:Platform" not in message
