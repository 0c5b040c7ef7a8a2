"""What the engine does with a dynamic provider: serialize it with dill, load it in another process, call it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pulumi.dynamic.dynamic import serialize_provider
from pytoniq_core import Address

from contracts.pricing_oracle import PricingOracle
from tests.providers.conftest import ADMIN
from ton_deploy.contract import TonContractProvider
from ton_deploy.deployment import TonDeploymentProvider
from ton_deploy.shard_batch import ShardBatchProvider

REPO = Path(__file__).resolve().parents[2]

HOST = """
import base64, json, sys
import dill
request = json.load(sys.stdin)
load = lambda key: dill.loads(base64.b64decode(request[key]))
contract = load("contract")
oracle = contract.create(request["oracle"])
contract.create(request["router"])
shards = load("batch").create(request["shards"])
print(json.dumps({"oracle": oracle.id, "shards": shards.outs["deployed_ids"]}))
"""


def test_providers_pickle_and_run_in_a_fresh_process(client, inputs):
    router = inputs.router()
    shards = inputs.shards(router["address"], range(4))
    request = {
        "contract": serialize_provider(TonContractProvider()),
        "batch": serialize_provider(ShardBatchProvider()),
        "router": router, "oracle": inputs.oracle(), "shards": shards,
    }
    result = subprocess.run([sys.executable, "-c", HOST], cwd=REPO, input=json.dumps(request),
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["shards"] == [0, 1, 2, 3]
    assert PricingOracle(Address(answer["oracle"])).get_admin(client.run_get_method) == ADMIN



DEPLOYMENT_HOST = """
import base64, json, sys
import dill
request = json.load(sys.stdin)
created = dill.loads(base64.b64decode(request["provider"])).create(request["props"])
print(json.dumps(created.outs["deployed"]))
"""


def test_the_deployment_provider_pickles_and_runs_in_a_fresh_process(client, settings, mnemonic, journal):
    from tests.providers.conftest import deployment, plan
    props = deployment(plan(settings, mnemonic, journal))
    request = {"provider": serialize_provider(TonDeploymentProvider()), "props": props}
    result = subprocess.run([sys.executable, "-c", DEPLOYMENT_HOST], cwd=REPO, input=json.dumps(request),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(json.loads(result.stdout.strip().splitlines()[-1])) == 25
    assert all(client.account(Address(c["address"])).status == "active" for c in props["contracts"].values())
