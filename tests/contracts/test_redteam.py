"""Adversarial review of the protocol (issue 13 follow-up): attacks with money at stake, on the real TVM.
Each test drives the attacker's messages and asserts what must hold afterwards (amounts, storage)."""
from __future__ import annotations

from pytoniq_core import Address, Cell, HashMap, StateInit, begin_cell

from contracts.base import TON
from contracts.multi_tranche_vault import MultiTrancheVault
from tests.contracts.conftest import CLAIMS_PROCESSOR, NOW, OTHER_USER, STRANGER, USER, Protocol, received, tx_on

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


def with_expired_buckets(data: Cell, count: int, today: int) -> Cell:
    """The vault's data with `count` coverage buckets of 1 TON ending before `today` (none released yet), as
    after a long idle stretch following sales of every duration."""
    s = data.begin_parse()
    admin, pending, paused = s.load_address(), s.load_address(), s.load_bit()
    capital, sold, in_flight, tranches = s.load_coins(), s.load_coins(), s.load_coins(), s.load_maybe_ref()
    roles, book, codes = s.load_ref(), s.load_ref(), s.load_ref()
    b = book.begin_parse()
    next_policy, next_deposit, paid, claims = b.load_uint(64), b.load_uint(64), b.load_coins(), b.load_uint(16)
    b.load_maybe_ref()
    pending_policies, pending_deposits = b.load_maybe_ref(), b.load_maybe_ref()
    buckets = HashMap(32, value_serializer=lambda v, builder: builder.store_coins(v))
    for i in range(count):
        buckets.set_int_key(today - 1 - i, TON)
    book = (begin_cell().store_uint(next_policy, 64).store_uint(next_deposit, 64).store_coins(paid)
            .store_uint(claims, 16).store_dict(buckets.serialize()).store_maybe_ref(pending_policies).store_maybe_ref(pending_deposits)
            .end_cell())
    return (begin_cell().store_address(admin).store_address(pending).store_bit(paused).store_coins(capital)
            .store_coins(sold + count * TON).store_coins(in_flight).store_maybe_ref(tranches)
            .store_ref(roles).store_ref(book).store_ref(codes).end_cell())


def test_redeem_after_a_long_idle_stretch_never_burns_tokens_without_payout(protocol: Protocol) -> None:
    """366 expired day buckets (a year without sales or redemptions after policies of every duration): the
    redeem (non-bounceable, minter -> vault) used to run out of gas releasing them all, after the wallet had
    burned the tokens: the holder lost them for nothing. Each message now releases at most 4 buckets."""
    chain, vault, run = protocol.chain, protocol.vault, protocol.run
    protocol.deposit(USER, EQT, 100 * TON)
    protocol.publish()
    chain.sandbox.set_data(vault.address, with_expired_buckets(chain.sandbox.account(vault.address).data, 366, NOW // 86400))
    sold = vault.get_total_coverage_sold(run)
    assert sold == 0, "the getter releases every expired bucket"
    txs = protocol.redeem(USER, EQT, 10 * TON)
    assert tx_on(txs, vault.address).success and tx_on(txs, vault.address).gas_used < 60000
    # still 362 TON of (expired) coverage counted at the vault: queued, the tokens come back as a queued
    # redemption that is due at once (no coverage is in force)
    wallet = protocol.wallet(EQT, USER)
    queued = wallet.get_queued_redemption(run)
    assert (queued.amount, protocol.tokens(EQT, USER)) == (10 * TON, 90 * TON) and queued.due <= chain.sandbox.now
    assert vault.get_tranche(run, EQT).shares == 100 * TON and protocol.capitals()[EQT] == 100 * TON
    assert received(txs, USER) > 0
    txs = chain.send(USER, wallet.address, wallet.build_withdraw_queued_body(), protocol.fees.redeem)
    assert tx_on(txs, vault.address).gas_used < 60000 and received(txs, USER) > 10 * TON
    for _ in range(45):  # 4 buckets a message: 366 buckets are gone after 92 messages
        txs = protocol.buy(STRANGER, TON, 1)
        assert all(tx.success for tx in txs if tx.address != STRANGER)
        assert tx_on(txs, vault.address).gas_used < 60000
    for _ in range(47):
        txs = protocol.redeem(USER, EQT, TON)
        assert tx_on(txs, vault.address).success
        queued = wallet.get_queued_redemption(run).amount
        assert vault.get_tranche(run, EQT).shares == protocol.tokens(EQT, USER) + queued, "no token burned unpaid"
    assert protocol.tokens(EQT, USER) + wallet.get_queued_redemption(run).amount < 90 * TON, (
        "once the expired coverage is released, redemptions pay at once")


def test_redeem_racing_a_claim_in_flight_does_not_escape_the_waterfall(protocol: Protocol) -> None:
    """An EQT holder burns while the claims processor's pay_claim is in flight (vault -> shard -> vault):
    the redemption must not be paid at the pre-loss price, leaving the loss to the tranches below."""
    chain, vault, run = protocol.chain, protocol.vault, protocol.run
    protocol.deposit(OTHER_USER, EQT, 10 * TON)
    protocol.deposit(STRANGER, JNR_PLUS, 20 * TON)
    protocol.publish()
    protocol.buy(STRANGER, 10 * TON, 30)
    before = protocol.capitals()
    fees = protocol.fees
    from contracts.sure_token import SureTokenWallet
    tokens = protocol.tokens(EQT, OTHER_USER)
    txs = chain.sandbox.send_internals([
        (OTHER_USER, protocol.wallet(EQT, OTHER_USER).address, fees.redeem,
         SureTokenWallet.build_burn_body(tokens, OTHER_USER)),
        (CLAIMS_PROCESSOR, vault.address, fees.claim, MultiTrancheVault.build_pay_claim_body(1, 10 * TON)),
    ])
    order = [tx.in_body.begin_parse().load_uint(32) for tx in txs if tx.address == vault.address]
    assert order[:3] == [0x1E5A0203, 0x1E5A0303, 0x1E5A0504], "the redeem reaches the vault mid-claim"
    # the 10 TON loss is EQT's (it held 10 TON + yield when the claim was approved)
    assert protocol.capitals()[JNR_PLUS] == before[JNR_PLUS]
    assert protocol.capitals()[EQT] == before[EQT] - 10 * TON
    assert protocol.tokens(EQT, OTHER_USER) == tokens, "refused while a claim is in flight: tokens back"
    assert received(txs, OTHER_USER) < fees.redeem
    assert vault.get_claims_in_flight(run) == 0
    # a claim the shard refuses (no such policy) bounces: the count goes back down, redemptions pay again
    txs = protocol.claim(999, TON)
    assert any(tx.in_bounced for tx in txs if tx.address == vault.address)
    assert vault.get_claims_in_flight(run) == 0
    txs = protocol.redeem(OTHER_USER, EQT, tokens)
    assert protocol.tokens(EQT, OTHER_USER) == 0 and received(txs, OTHER_USER) >= before[EQT] - 10 * TON


def test_first_depositor_cannot_inflate_the_share_price_with_a_donated_premium(protocol: Protocol) -> None:
    """The classic vault inflation: take 1 share of an empty tranche, donate to its capital (here: an
    overpaid premium, booked as yield), so the next depositor's shares round down to nothing. Yield is pro
    rata to capital, so 1 nanoton of EQT earns nothing of a 50 TON premium (the rounding, at most a few
    nanotons, goes to EQT): the victim's deposit keeps its value to the nanoton."""
    run, vault = protocol.run, protocol.vault
    protocol.deposit(STRANGER, 1, 100 * TON)
    protocol.deposit(OTHER_USER, EQT, 1)  # the attacker: 1 nanoton, 1 share
    assert vault.get_tranche(run, EQT).shares == 1
    protocol.publish()
    txs = protocol.buy(OTHER_USER, TON, 30, premium=50 * TON)
    assert all(tx.success for tx in txs if tx.address != OTHER_USER)
    donated = vault.get_tranche(run, EQT).capital - 1
    assert 0 <= donated <= 6, "EQT's part of the premium is its pro-rata part (none) plus the rounding"
    protocol.deposit(USER, EQT, 10 * TON)
    state = vault.get_tranche(run, EQT)
    victim = protocol.tokens(EQT, USER)
    assert victim * state.capital // state.shares >= 10 * TON - 7, "the victim's shares are worth its deposit"
    attacker_gets = 1 * state.capital // state.shares
    assert attacker_gets <= 1 + donated, "the attacker gets back at most what it put into EQT"


def test_forged_excesses_for_a_deposit_in_flight_changes_nothing(protocol: Protocol) -> None:
    """A stranger sends `excesses` with the id of a deposit still in flight (query id = deposit id 1): only
    the depositor's own wallet confirms a deposit, so the forgery is plain TON to the vault and the real
    confirmation still returns the LP's unused fee."""
    chain, vault, run = protocol.chain, protocol.vault, protocol.run
    fees = protocol.fees
    excesses = begin_cell().store_uint(0xD53276DB, 32).store_uint(1, 64).end_cell()
    txs = chain.sandbox.send_internals([
        (USER, vault.address, 10 * TON + fees.deposit, MultiTrancheVault.build_deposit_body(EQT)),
        (STRANGER, vault.address, TON // 100, excesses),
    ])
    on_vault = [tx for tx in txs if tx.address == vault.address]
    forged = next(tx for tx in on_vault if tx.in_sender == STRANGER)
    assert forged.success and not forged.out_messages, "plain TON: nothing sent, nothing confirmed"
    assert on_vault.index(forged) < len(on_vault) - 1, "the forgery arrived while the deposit was pending"
    state = vault.get_tranche(run, EQT)
    assert (state.capital, state.shares) == (10 * TON, 10 * TON) == (state.capital, protocol.tokens(EQT, USER))
    assert 0 < received(txs, USER) < fees.deposit, "the wallet's real confirmation returned the unused fee"


# A contract that relays the body ref of its inbound message to `to` with the bounced flag set (FunC 0.4.6):
#   msg = begin_cell().store_uint(0x1c, 6)  ;; int_msg_info$0 ihr_disabled bounce bounced=1 src:addr_none
#         .store_slice(to).store_coins(0.1 TON).store_uint(1, 107).store_ref(body).end_cell();
#   send_raw_message(msg, 1);
FORGER_CODE = "te6ccgEBAgEANgABFP8A9KQT9LzyyAsBAE7TbCEgxwCRMOD6QNQwcYAcyMsFUAPPFoIQBfXhAPoCEstqzMlx+wA="


def test_a_contract_cannot_forge_a_bounce_to_mint_jetton_balance(protocol: Protocol) -> None:
    """The wallet's bounce handler restores `amount` of a bounced internal_transfer without checking the
    sender (as TEP-74's reference does). That is only safe if no contract can set the bounced flag: a forged
    bounce of 10^6 TON of tokens arrives as an ordinary message (unknown op 0xffffffff), balance unchanged."""
    chain = protocol.chain
    protocol.deposit(USER, EQT, 10 * TON)
    code = Cell.one_from_boc(FORGER_CODE)
    init = StateInit(code=code, data=Cell.empty())
    forger = Address((0, init.serialize().hash))
    chain.sandbox.send_internal(sender=STRANGER, to=forger, value=TON, state_init=init)
    wallet = protocol.wallet(EQT, USER).address
    forged = (begin_cell().store_uint(0xFFFFFFFF, 32).store_uint(0x178D4519, 32).store_uint(0, 64)
              .store_coins(10**6 * TON).end_cell())
    data = chain.data_hash(wallet)
    txs = chain.send(STRANGER, forger, begin_cell().store_address(wallet).store_ref(forged).end_cell())
    arrived = tx_on(txs, wallet)
    assert not arrived.in_bounced and not arrived.success and arrived.exit_code == 0xFFFF
    assert chain.data_hash(wallet) == data and protocol.tokens(EQT, USER) == 10 * TON


def payload_tree(cells: int) -> Cell:
    """A forward_payload of `cells` distinct full cells, four refs per cell (shallow)."""
    counter = iter(range(cells))

    def node(budget: int) -> Cell:
        builder = begin_cell().store_uint(next(counter), 32).store_bits("1" * 900)
        left = budget - 1
        for i in range(4):
            share = left // (4 - i)
            if share:
                builder.store_ref(node(share))
                left -= share
        return builder.end_cell()
    return node(cells)


def test_a_huge_forward_payload_cannot_make_the_receiving_wallet_pay_its_forward_fee(protocol: Protocol) -> None:
    """The transfer fee is priced for a small message; a 600-cell forward_payload costs ~0.25 TON to
    forward twice (sender -> receiver wallet, receiver wallet -> owner). Priced at a fixed size, an
    underpaid transfer left the sender's wallet and failed at the receiver with too little value even to
    bounce: the token was gone. The sender's wallet now prices the payload's real size (402 otherwise);
    whatever the value, the receiving wallet's own TON (5 TON parked) never pays, and no token is lost."""
    from contracts.sure_token import SureTokenWallet
    chain = protocol.chain
    protocol.deposit(USER, EQT, 10 * TON)
    protocol.deposit(OTHER_USER, EQT, TON)
    victim = protocol.wallet(EQT, OTHER_USER).address
    chain.send(OTHER_USER, victim, None, 5 * TON)
    payload = payload_tree(600)
    reached = []
    for value in (TON // 20, TON * 3 // 10, TON // 2, TON):
        parked, tokens = chain.balance(victim), protocol.tokens(EQT, USER) + protocol.tokens(EQT, OTHER_USER)
        transfer = SureTokenWallet.build_transfer_body(1, OTHER_USER, USER, forward_ton_amount=1,
                                                       forward_payload=payload)
        txs = chain.send(USER, protocol.wallet(EQT, USER).address, transfer, value)
        reached += [tx.success for tx in txs if tx.address == victim]
        assert chain.balance(victim) >= parked, f"attached {value}: the receiver's TON paid the forward fee"
        assert protocol.tokens(EQT, USER) + protocol.tokens(EQT, OTHER_USER) == tokens
    assert reached == [True], "underpaid transfers are refused by the sender's wallet (402), the paid one lands"


def test_cover_bought_to_the_cap_delays_a_redemption_only_until_that_cover_ends(protocol: Protocol) -> None:
    """Issue 20, finding 4: buying cover up to the utilization cap blocked every redemption for as long as the
    attacker kept renewing it. Now the blocked burn is queued: due when the cover in force at the request
    ends, its capital reserved at once so that no cover bought later can extend the wait, and paid then,
    with the attacker's premium as yield. Blocking an LP for D days costs the attacker capital x 80% x rate
    x D / 365, all of it paid to the LPs it delays (bench/redemption_bound.py)."""
    from contracts.sure_token import SureTokenWallet
    chain, vault, run = protocol.chain, protocol.vault, protocol.run
    protocol.deposit(USER, EQT, 1000 * TON)  # the LP
    protocol.publish()
    attack_days = 30
    cover = vault.get_total_capital(run) * 8000 // 10000
    premium = protocol.premium(cover, attack_days)
    txs = protocol.buy(STRANGER, cover, attack_days)  # to the cap
    assert any(m.dest == STRANGER and m.body.begin_parse().load_uint(32) == 0x1E5A02F2
               for tx in txs for m in tx.out_messages), "sold"
    requested = chain.sandbox.now
    tokens = protocol.tokens(EQT, USER)
    wallet = protocol.wallet(EQT, USER)
    protocol.redeem(USER, EQT, tokens)
    queued = wallet.get_queued_redemption(run)
    assert queued.amount == tokens and queued.due <= requested + (attack_days + 1) * 86400
    # the attacker tries to extend the wait: no capital is left for new cover (all of it is queued)
    before = (chain.data_hash(vault.address), chain.balance(vault.address))
    protocol.publish()
    txs = protocol.buy(STRANGER, TON, 365)
    assert any(m.dest == STRANGER and m.body.begin_parse().load_uint(32) == 0x1E5A02F1
               for tx in txs for m in tx.out_messages), "refused (416)"
    assert chain.balance(vault.address) == before[1]
    # new capital arrives (it must back the cover in force too, until the queued capital leaves): the attacker
    # buys year-long cover with it; the LP's due date does not move
    protocol.deposit(OTHER_USER, 1, 2000 * TON)
    protocol.publish()
    txs = protocol.buy(STRANGER, 500 * TON, 365)
    assert any(m.dest == STRANGER and m.body.begin_parse().load_uint(32) == 0x1E5A02F2
               for tx in txs for m in tx.out_messages), "sold against the new capital"
    assert wallet.get_queued_redemption(run) == queued
    chain.sandbox.now = queued.due
    txs = chain.send(USER, wallet.address, SureTokenWallet.build_withdraw_queued_body(), protocol.fees.redeem)
    paid = received(txs, USER)
    assert paid > 1000 * TON + premium - protocol.rent(attack_days) - TON, "the LP is paid, with the attacker's premium"
    assert vault.get_total_coverage_sold(run) <= vault.get_total_capital(run) * 8000 // 10000, "the rest still backs"
