"""Rules whose result depends on the TVM version, checked on a second, newer emulator: @ton/sandbox (pinned in
package.json, the mainnet config of chain/data), which implements TVM 10+ where pytvm's emulator does not.

Issue 20, finding 6: since TVM 10, LDMSGADDR no longer parses addr_var or anycast addresses and throws 9 (cell
underflow), so the contracts refused them with exit 9 on chain while the README (and pytvm) said 413. Body
addresses are now read by their tag (common.fc, load_plain_address / load_std_address): 413 on both TVMs."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

from pytoniq_core import Address, Cell, begin_cell

from contracts.base import TON, Deployment, ExitCode
from contracts.multi_tranche_vault import MultiTrancheVault, Op as VaultOp
from contracts.policy_router import Op as RouterOp, PolicyRouter, PolicyRouterConfig
from contracts.pricing_oracle import Op as OracleOp, PricingOracle, PricingOracleConfig
from tests.contracts.conftest import ADMIN, NOW, vault_config
from tests.contracts.test_common_behaviour import UNUSABLE_ADMINS, propose_raw

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("sandbox_exit_codes.mjs")


def b64(cell: Cell) -> str:
    return base64.b64encode(cell.to_boc()).decode()


def run_on_sandbox(messages: list[dict]) -> list[int | None]:
    node = shutil.which("node")
    assert node, "node is needed for the second emulator (scripts/bootstrap installs it)"
    done = subprocess.run([node, str(RUNNER)], cwd=ROOT, input=json.dumps({"now": NOW, "messages": messages}),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)["exitCodes"]


def message(to: Address, body: Cell, deploy: Deployment | None = None) -> dict:
    m = {"from": ADMIN.to_str(is_user_friendly=False), "to": to.to_str(is_user_friendly=False), "value": str(TON),
         "body": b64(body)}
    if deploy is not None:
        m.update(code=b64(deploy.state_init.code), data=b64(deploy.state_init.data))
    return m


def with_address(op: int, address_bits: Cell, before: Cell | None = None) -> Cell:
    """Body `op query_id [before] address`: an address field holding raw bits (any form)."""
    builder = begin_cell().store_uint(op, 32).store_uint(0, 64)
    if before is not None:
        builder.store_cell(before)
    return builder.store_cell(address_bits).end_cell()


def test_malformed_addresses_are_413_on_the_newer_tvm_too() -> None:
    oracle = PricingOracle.from_config(PricingOracleConfig(admin=ADMIN))
    vault = MultiTrancheVault.from_config(vault_config(oracle.address))
    router = PolicyRouter.from_config(PolicyRouterConfig(ADMIN, vault.address, oracle.address, 16))
    keeper = begin_cell().store_address(Address("0:" + "b1" * 32)).end_cell()
    cases = {  # (contract, body builder) for each address field that gets a role
        "oracle propose_admin": (oracle, propose_raw),
        "oracle add_keeper": (oracle, lambda bits: with_address(OracleOp.ADD_KEEPER, bits)),
        "oracle replace_keeper": (oracle, lambda bits: with_address(OracleOp.REPLACE_KEEPER, bits, keeper)),
        "vault propose_admin": (vault, propose_raw),
        "vault set_treasury": (vault, lambda bits: with_address(VaultOp.SET_TREASURY, bits)),
        "router propose_admin": (router, propose_raw),
        "router set_oracle": (router, lambda bits: with_address(RouterOp.SET_ORACLE, bits)),
    }
    messages = [message(d.address, Cell.empty(), d) for d in (oracle, vault, router)]
    labels = []
    for case, (target, build) in cases.items():
        for form, bits in UNUSABLE_ADMINS.items():
            messages.append(message(target.address, build(bits)))
            labels.append(f"{case} {form}")
    # a valid address is accepted (the check is not refusing everything)
    messages.append(message(oracle.address, PricingOracle.build_add_keeper_body(Address("0:" + "b1" * 32))))
    codes = run_on_sandbox(messages)
    assert codes[:3] == [0, 0, 0], "deployments"
    assert dict(zip(labels, codes[3:-1])) == {label: ExitCode.WRONG_WORKCHAIN for label in labels}
    assert codes[-1] == 0
