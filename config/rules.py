"""The rules that parsing shares with the policy pack (policy/rules.py) and preflight (ops/preflight.py):
one copy of each, so a stack refused by config is refused for the same reason everywhere."""

from __future__ import annotations

import re
from typing import Mapping

from pytoniq_core import Address

from config.types import ConfigError, TonConfig

# An image reference that names its version: a tag, a digest, or both (repo[:port]/name:tag@sha256:...).
IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})$"
                   r"|^[a-z0-9][a-z0-9._/:-]*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}@sha256:[a-f0-9]{64}$")
# Secrets providers that keep the stack's data key in a cloud KMS (required on mainnet).
KMS_SECRETS_PROVIDERS = ("awskms://", "gcpkms://", "azurekeyvault://")


def check_image(key: str, image: object, network: str) -> None:
    """An image reference names its version (tag or digest), not `:latest` off localnet, and on mainnet its
    digest. Config and the policy pack (every workload's containers) share this rule."""
    if not isinstance(image, str) or not IMAGE.match(image):
        raise ConfigError(key, f"must be an image reference with an explicit tag or digest, got {image!r}")
    if network != "localnet" and image.split("@")[0].endswith(":latest"):
        raise ConfigError(key, f"must pin a version on {network}, not ':latest'")
    if network == "mainnet" and "@sha256:" not in image:  # a tag can be pushed again with other contents
        raise ConfigError(key, f"must name the image by digest on mainnet (<name>:<tag>@sha256:<digest>), got {image!r}")


def deployer_address_conflicts(addresses: Mapping[str, str], mnemonic: str) -> list[tuple[str, str]]:
    """(name, wallet kind) for each named address that is one of the deployer mnemonic's wallets. Config (on
    mainnet) and the policy pack (every contract's init data) share this rule: the deployer only pays."""
    from chain.wallets import deployer_wallet_addresses

    wallets = deployer_wallet_addresses(mnemonic)
    return [(name, kind) for name, value in addresses.items() for kind, wallet in wallets.items()
            if Address(value) == wallet]


def role_conflicts(ton: TonConfig, mnemonic: str) -> list[tuple[str, str]]:
    """(config key, wallet kind) for each of admin, treasury and claims processor that is one of the deployer
    mnemonic's wallets: on mainnet the deployer only pays (preflight checks this with the words it reads)."""
    return deployer_address_conflicts({"adminAddress": ton.admin_address, "treasuryAddress": ton.treasury_address,
                                       "claimsProcessorAddress": ton.claims_processor_address}, mnemonic)


def check_secrets_provider(network: str, provider: str | None) -> None:
    """On mainnet the stack's secrets provider must be a cloud KMS (Pulumi.<stack>.yaml `secretsprovider`)."""
    if network == "mainnet" and not (provider or "").startswith(KMS_SECRETS_PROVIDERS):
        raise ConfigError("network", "is mainnet, so the stack's secrets provider must be a KMS one "
                                     f"({', '.join(p + '...' for p in KMS_SECRETS_PROVIDERS)}), got "
                                     f"{(provider or 'passphrase').split('://')[0]!r}: pulumi stack change-secrets-provider")
