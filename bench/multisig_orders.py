"""What a multisig order costs and how long the tool takes, on localnet with the official multisig v2 (3 of 5).

For a one-message order (add-keeper) and a four-message one (set-oracle): the TON that leaves the proposer's
wallet for new_order, a signer's wallet per approval (both wallets' first message, which deploys them), and the
multisig's net spending at execution (its messages' values less what the order returns to it; negative: it
gained); and the seconds `create_order` and `approve_order` take (each runs the order to its end on a private
copy first).

    .venv/bin/python bench/multisig_orders.py [--smoke]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytoniq_core import Address  # noqa: E402

from contracts.admin_actions import ADMIN_ACTIONS, observe_roles  # noqa: E402
from contracts.base import TON  # noqa: E402
from ton_deploy.multisig_orders import approve_order, create_order  # noqa: E402
from tests.ops.multisig_world import THRESHOLD, make_world  # noqa: E402


def measure(action_name: str, values: dict, directory: Path) -> dict[str, float]:
    world = make_world(directory)
    client, session = world.client, world.session
    action = ADMIN_ACTIONS[action_name]
    args = {"multisig": world.multisig, **values}
    before = observe_roles(world.contracts, client.run_get_method, action.mentioned(args), session.fmt)
    messages = action.messages(world.contracts, args, before)
    expected = action.expected(world.contracts, args, session.fmt)
    watch = session.watch(action.mentioned(args))
    journal = directory / "journal.json"
    balance = lambda address: client.account(address).balance  # noqa: E731
    proposer = world.proposer.wallet(client, journal)
    start_balance, multisig_before = balance(proposer.address), balance(world.multisig)
    started = time.perf_counter()
    created = create_order(client, proposer, world.multisig, watch, messages, expected, expires_in=86400)
    figures = {"messages": len(messages), "create_seconds": time.perf_counter() - started,
               "new_order_ton": (start_balance - balance(proposer.address)) / TON}
    approvals = []
    for index in range(THRESHOLD):
        signer = world.signers[index].wallet(client, journal)
        before_signer = balance(signer.address)
        started = time.perf_counter()
        approve_order(client, signer, world.multisig, watch, created.order.seqno)
        approvals.append((time.perf_counter() - started, (before_signer - balance(signer.address)) / TON))
    figures["approve_seconds"] = sum(s for s, _ in approvals) / len(approvals)
    figures["approval_ton"] = max(ton for _, ton in approvals)
    figures["multisig_spent_ton"] = (multisig_before - balance(world.multisig)) / TON
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="the one-message order only (the test suite runs it)")
    options = parser.parse_args()
    cases = [("add-keeper", {"keeper": Address("0:" + "ab" * 32)})]
    if not options.smoke:
        cases.append(("set-oracle", {"oracle": Address("0:" + "0d" * 32)}))
    print(f"{'order':<12} {'msgs':>4} {'new_order TON':>14} {'approval TON':>13} {'multisig net TON':>17} "
          f"{'create s':>9} {'approve s':>10}")
    for name, values in cases:
        with tempfile.TemporaryDirectory(prefix="bench-multisig-") as tmp:
            f = measure(name, values, Path(tmp))
        print(f"{name:<12} {f['messages']:>4} {f['new_order_ton']:>14.6f} {f['approval_ton']:>13.6f} "
              f"{f['multisig_spent_ton']:>17.6f} {f['create_seconds']:>9.2f} {f['approve_seconds']:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
