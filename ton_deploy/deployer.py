"""The deployer context: what every TON resource carries besides its contracts, and what a provider call
derives from it.

Resource inputs hold plain values only: the chain settings as a dict, the deployer mnemonic (a Pulumi
secret; the engine unwraps it before a provider method runs) or its Secrets Manager reference
(mnemonic.py), the path of the wallets' send journal and how long to wait for the chain. Every method
builds its client and wallet from them, so the providers pickle and hold nothing between calls.

The journal lives beside the stack's state (plan.py, `journal_location`: the backend's folder, or its S3
bucket), so every operator and CI runner of the stack reads the same one (journal.py). A journal left at the
old place (`.state/journal` of the checkout) is adopted by the first provider call that signs, never while
the program builds its arguments or previews.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator

from pulumi.dynamic import CheckFailure

from chain.client import ChainSettings
from chain.wallets import SendJournal, WalletKey
from ton_deploy.journal import journal_at, journal_turn
from ton_deploy.mnemonic import mnemonic_inputs, reference_failure, resolve_deployer_mnemonic
from ton_deploy.plan import Deployer

def deployer_inputs(deployer: Deployer) -> dict[str, Any]:
    """The deployer's part of a resource's inputs."""
    return {"chain": chain_input(deployer.chain), **mnemonic_inputs(deployer.mnemonic),
            "journal_path": deployer.journal_path, "legacy_journal_path": deployer.legacy_journal_path,
            "wait_seconds": deployer.wait_seconds}


# Settings a stack sets only on public networks: present in the inputs only when set, so the inputs (and state)
# of a localnet stack keep their shape.
OPTIONAL_CHAIN_KEYS = ("trust_cache_path", "trusted_key_block")


def chain_input(settings: ChainSettings) -> dict[str, Any]:
    """The resource input describing how to reach the chain (plain values, picklable)."""
    optional = {key: getattr(settings, key) for key in OPTIONAL_CHAIN_KEYS if getattr(settings, key)}
    return {"network": settings.network, "localnet_path": settings.localnet_path,
            "liteserver_config_path": settings.liteserver_config_path, **optional}


def chain_settings(props: dict[str, Any]) -> ChainSettings:
    chain = props["chain"]
    return ChainSettings(chain["network"], localnet_path=chain.get("localnet_path"),
                         liteserver_config_path=chain.get("liteserver_config_path"),
                         **{key: chain[key] for key in OPTIONAL_CHAIN_KEYS if chain.get(key)})


def deployer_failures(props: dict[str, Any]) -> list[CheckFailure]:
    """What is wrong with the deployer inputs (a provider's check): the chain settings and the mnemonic."""
    failures = []
    try:
        chain_settings(props)
    except Exception as error:  # ChainError or a missing key: say which settings are wrong
        failures.append(CheckFailure("chain", str(error)))
    if (mnemonic_failure := reference_failure(props)) is not None:
        failures.append(CheckFailure("deployer_mnemonic_ref", mnemonic_failure))
    return failures


def deployer_key(props: dict[str, Any]) -> WalletKey:
    """The deployer's key from the secret input, or from Secrets Manager by reference inside this call;
    errors never repeat the words."""
    return _key_of(resolve_deployer_mnemonic(props))


# Deriving a key from 24 words is two PBKDF2 runs (~0.2 s); every resource of an update needs the same key.
# The provider process already holds the words in its inputs; the cache lives as long as that process.
_key_of = functools.lru_cache(maxsize=4)(WalletKey.from_mnemonic)


def deployer_journal(props: dict[str, Any]) -> SendJournal:
    """The deployer wallets' send journal (a file, or the object beside the state in S3)."""
    return journal_at(props["journal_path"])


@contextlib.contextmanager
def deployer_turn(props: dict[str, Any]) -> Iterator[None]:
    """One funding-and-send at a time per journal (also across runners on S3): a balance checked for a send
    stays true until it is signed. The first turn adopts a journal left at the old place, so its open
    messages stay known."""
    with journal_turn(props["journal_path"], props.get("legacy_journal_path")):
        yield
