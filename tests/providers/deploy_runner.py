"""Helper process for the two-runner tests: one CI runner's `pulumi up` of the deployment resource.

usage: deploy_runner.py PROPS_JSON GO_FILE RESULT_JSON

Waits until GO_FILE exists (so two runners start together), calls the deployment provider's create with the
inputs in PROPS_JSON (the journal an s3:// URL on moto's server, AWS_* in the environment) and writes what it
deployed and adopted, or the error, to RESULT_JSON.
"""
import json
import logging
import os
import sys
import time

from ton_deploy.deployment import TonDeploymentProvider

logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
props_file, go_file, result_file = sys.argv[1:4]
props = json.loads(open(props_file).read())
while not os.path.exists(go_file):
    time.sleep(0.01)
try:
    outs = TonDeploymentProvider().create(props).outs
    result = {"deployed": outs["deployed"], "adopted": outs["adopted"], "tx": outs["deploy_tx_hash"]}
except Exception as error:  # noqa: BLE001 - reported to the test
    result = {"error": f"{type(error).__name__}: {error}"}
with open(result_file, "w") as out:
    json.dump(result, out)
