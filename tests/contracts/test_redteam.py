"""Adversarial review of the protocol (issue 13 follow-up): attacks with money at stake, on the real TVM.
Each test drives the attacker's messages and asserts what must hold afterwards (amounts, storage)."""
from __future__ import annotations

from contracts.base import TON
from contracts.multi_tranche_vault import MultiTrancheVault
from tests.contracts.conftest import CLAIMS_PROCESSOR, OTHER_USER, STRANGER, USER, Protocol, received

EQT, JNR_PLUS = 6, 5


def test_deposit_in_flight_during_a_wipe_out_is_not_handed_to_the_wiped_out_holders(protocol: Protocol) -> None:
    """A deposit and a claim in flight at once (deposit -> claim_confirmed -> the wallet's confirmation):
    the loss wipes out EQT's old capital. The new deposit was accepted into EQT before the loss, so it takes
    its part of the loss by the waterfall; the wiped-out holders must not end up owning half of it while
    JNR+ pays the loss the deposit was there to absorb."""
    chain, vault, run = protocol.chain, protocol.vault, protocol.run
    protocol.deposit(OTHER_USER, EQT, 10 * TON)  # the attacker: old EQT holder
    protocol.deposit(STRANGER, JNR_PLUS, 20 * TON)
    protocol.publish()
    protocol.buy(STRANGER, 15 * TON, 30)
    before = protocol.capitals()
    fees = protocol.fees
    chain.sandbox.send_internals([
        (USER, vault.address, 10 * TON + fees.deposit, MultiTrancheVault.build_deposit_body(EQT)),
        (CLAIMS_PROCESSOR, vault.address, fees.claim, MultiTrancheVault.build_pay_claim_body(1, 15 * TON)),
    ])
    after = vault.get_tranche(run, EQT)
    # the deposit was in EQT when the 15 TON loss hit it: 20 TON of EQT absorb it all, JNR+ is untouched
    assert protocol.capitals()[JNR_PLUS] == before[JNR_PLUS]
    assert after.capital == before[EQT] + 10 * TON - 15 * TON
    assert after.shares == protocol.tokens(EQT, USER) + protocol.tokens(EQT, OTHER_USER)
    # the attacker's redemption pays its pro-rata part of what is left, nothing of the victim's share
    attacker_tokens = protocol.tokens(EQT, OTHER_USER)
    txs = protocol.redeem(OTHER_USER, EQT, attacker_tokens)
    paid = attacker_tokens * after.capital // after.shares
    assert paid < before[EQT] // 2, "the attacker keeps less than half of what EQT held before the loss"
    assert received(txs, OTHER_USER) >= paid and vault.get_tranche(run, EQT).capital == after.capital - paid
