"""The one message that deploys what is missing, shared by the three TON providers.

- wallets send through the journal (chain/wallets.py), so a re-run after any interruption converges on
  the recorded message instead of signing a second one;
- before the missing contracts are computed, the wallet's open messages are settled and the chain is
  read again (`send_missing`): what an earlier message deployed is adopted, never sent twice;
- every deploy is executed on a private TVM first (checks.py), and the deployer's balance is checked
  before signing; the faucet tops it up only on localnet.
"""
from __future__ import annotations

from typing import Any, Sequence

import pulumi

from chain.client import ChainClient, ChainError
from chain.records import TON, raw_address
from chain.wallets import JournaledWallet, SendResult, Superseded, Transfer
from ton_deploy.checks import DeployRefused, compute_deploys, require_deployable
from ton_deploy.targets import Target

# What a deployer wallet needs beyond chain/wallets.py's own requirement (values, forwarding, gas per
# message): its deployment on first use and the gas of a large batch.
WALLET_MARGIN = TON // 10
SUPERSEDED_READS = 3   # reads of the chain after an earlier message landed under a send (one is the norm)


def ensure_funds(client: ChainClient, wallet: JournaledWallet, transfers: Sequence[Transfer]) -> int:
    """Make sure the deployer wallet can send these transfers; returns the nanotons funded.

    Localnet: the faucet tops the wallet up. Elsewhere nothing is funded: a short wallet fails here, before
    anything is signed, with the amount to send it.
    """
    required = wallet.required_balance(transfers) + WALLET_MARGIN
    balance = client.account(wallet.address).balance
    if balance >= required:
        return 0
    if client.network != "localnet":
        raise DeployRefused(f"deployer wallet {raw_address(wallet.address)} holds {balance / TON:.3f} TON; deploying "
                            f"{len(transfers)} contract(s) needs about {required / TON:.3f} TON (deploy values, "
                            "forwarding and wallet fees): fund it and run the update again")
    amount = required - balance
    client.fund(wallet.address, amount)
    pulumi.log.info(f"localnet faucet: funded deployer wallet {raw_address(wallet.address)} with {amount / TON:.3f} TON")
    return amount


def send_missing(client: ChainClient, wallet: JournaledWallet, targets: dict[Any, Target], value: int | dict[Any, int],
                 what: str, wait_seconds: float) -> tuple[SendResult | None, list[Any], int]:
    """Deploy the targets that are not active, in one message of `wallet` (call inside `deployer_turn`).

    First the wallet's open messages are settled and the chain is read again, so what an earlier message
    deployed (a killed run, a delayed batch, another operator) is adopted; the rest is executed on a private
    TVM, funded and sent. If an earlier message lands while the wallet waits for it (Superseded), read again.
    Returns (the send, or None when nothing was missing any more; the keys sent; nanotons funded).
    """
    funded = 0
    for _ in range(SUPERSEDED_READS):
        wallet.settle_open()
        missing = [key for key, target in targets.items() if client.account(target.address).status != "active"]
        if not missing:
            return None, [], funded
        values = [value if isinstance(value, int) else value[k] for k in missing]
        require_deployable(compute_deploys(client.now(), wallet.address, [targets[k] for k in missing], values), what)
        transfers = [Transfer(targets[k].address, v, state_init=targets[k].state_init) for k, v in zip(missing, values)]
        funded += ensure_funds(client, wallet, transfers)
        try:
            return wallet.send(transfers, wait_seconds=wait_seconds), missing, funded
        except Superseded as superseded:
            pulumi.log.info(f"{what}: {superseded}")
    raise ChainError(f"{what}: earlier messages kept landing while this one waited ({SUPERSEDED_READS} reads); "
                     "run the update again")
