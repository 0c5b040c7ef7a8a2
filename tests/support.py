"""What test modules share (they never import from each other): stack config as the Pulumi runtime hands it
over, one recording set of Pulumi mocks, the contracts' arguments, a liteserver network config for the chain
and provider tests (liteservers themselves: tests/liteserver/), a leak check for the deployer mnemonic, a wait on a condition, and
Argo's verdict on one canary measurement."""
from __future__ import annotations

import ast
import atexit
import base64
import functools
import hashlib
import json
import operator
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pulumi
import pytest
from pytoniq_core import Address
from pytoniq_core.crypto.keys import mnemonic_new

from chain.client import ChainSettings
from chain.liteserver import ZERO_STATE_ROOT_HASHES
from config import ConfigError, StackConfig, parse_stack_config, read_stack_config
from config.services import EXPORTER_IMAGES
from config.types import IMAGE_KEYS
from resource_types import TON_SHARD_BATCH
from tests.chain.conftest import keypair
from ton_deploy.plan import Deployer, TonsuranceContractsArgs

# ---- stack config ------------------------------------------------------------------------------------

MNEMONIC = " ".join(mnemonic_new(24))
IMAGES = {key: f"ghcr.io/tonsurance/{key.lower()}:1.0.0" for key in IMAGE_KEYS}
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/0A1B2C3D4E5F"
BACKUP_IMAGE = "ghcr.io/tonsurance/db-tools:1.0.0"
DEPLOY_ROLE_ARN = "arn:aws:iam::123456789012:role/tonsurance-deploy"
DIGEST = "@sha256:" + "5e" * 32  # mainnet names every image by digest (config/rules.py, check_image)
PUBLIC_SERVICES = {"domain": "tonsurance.com", "tlsIssuer": "letsencrypt-prod", "acmeEmail": "ops@tonsurance.com",
                   "prometheusUrl": "http://prometheus-operated.monitoring.svc:9090",
                   "exporterImages": {name: image + DIGEST for name, image in EXPORTER_IMAGES.items()}}
LOCAL_PROMETHEUS = "http://127.0.0.1:9090"  # what a running local Prometheus gives (config/services.py)
SECRETS = {"deployerMnemonic", "databasePassword"}

NETWORK_CONFIGS = Path(tempfile.mkdtemp(prefix="tonsurance-network-configs-"))
atexit.register(shutil.rmtree, NETWORK_CONFIGS, True)


def address(seed: str, testnet: bool = True) -> str:
    raw = Address("0:" + hashlib.sha256(seed.encode()).hexdigest())
    return raw.to_str(is_user_friendly=True, is_bounceable=True, is_test_only=testnet)


def liteserver_config(network: str) -> str:
    """A global network config file of `network` (liteservers and its zero state)."""
    return network_config(NETWORK_CONFIGS, network)


@functools.cache
def database_ca() -> str:
    """A CA bundle file (a test CA's certificate) for the public stacks' database.sslRootCert."""
    from tests.tls import make_pki

    return str(make_pki(NETWORK_CONFIGS / "pki", "database").ca_cert)


def raw_config(network: str = "localnet", **overrides) -> dict[str, str]:
    """A valid `tonsurance:*` config of `network` (keys without the prefix); an override of None removes a key."""
    testnet = network != "mainnet"
    raw = {
        "network": network,
        "shardCount": "256" if network == "mainnet" else "16",
        "adminAddress": address("admin", testnet),
        "keeperAddresses": json.dumps([address("k1", testnet), address("k2", testnet)]),
        "treasuryAddress": address("treasury", testnet),
        "claimsProcessorAddress": address("claims", testnet),
        "deployerMnemonic": MNEMONIC,
        "namespace": f"tonsurance-{network}",
        "images": json.dumps(IMAGES),
        "database": json.dumps({"host": "127.0.0.1", "port": 5432, "name": "tonsurance", "user": "tonsurance"}),
        "databasePassword": "s3cret-db-password",
    }
    if network == "localnet":  # the URL a running local Prometheus would give (tests/unit/test_config_services.py)
        raw["services"] = json.dumps({"prometheusUrl": LOCAL_PROMETHEUS})
    if network != "localnet":
        raw["liteserverConfig"] = liteserver_config(network if network in ("testnet", "mainnet") else "testnet")
        raw["services"] = json.dumps(PUBLIC_SERVICES)
        raw["database"] = json.dumps({**json.loads(raw["database"]), "sslRootCert": database_ca()})
        raw.update(awsRegion="eu-central-1", eksOidcProviderArn=OIDC_ARN, backupJobImage=BACKUP_IMAGE,
                   backupStore=f"s3://tonsurance-backups-{network}/{network}/", deployRoleArn=DEPLOY_ROLE_ARN)
    if network == "mainnet":
        raw["deployerMnemonic"] = None
        raw["deployerMnemonicSecretId"] = "tonsurance/mainnet/deployer-mnemonic"
        raw.update(images=json.dumps({k: image + DIGEST for k, image in IMAGES.items()}), backupJobImage=BACKUP_IMAGE + DIGEST)
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not None}


def parse(raw, secrets=SECRETS, stack="test") -> StackConfig:
    """Pure parsing (config/parse.py)."""
    return parse_stack_config(stack, raw, set(secrets))


def read(raw, secrets=SECRETS, stack="test") -> StackConfig:
    """Parsing and the file probes, as the program and the operator commands read config (config/loader.py)."""
    return read_stack_config(stack, raw, set(secrets))


def error_for(raw, secrets=SECRETS, reader: Callable[..., StackConfig] = read) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        reader(raw, secrets)
    return info.value


def mnemonic_leaks(text: str, mnemonic: str) -> list[str]:
    """Where `text` shows the mnemonic: each two adjacent words of it, however separated (a space, a line break,
    `", "` in a list; one word alone may be ordinary English), and the whole phrase base64-encoded (a Secret's
    data). Empty when nothing leaked."""
    words = mnemonic.split()
    found = [f"{a} {b}" for a, b in zip(words, words[1:]) if re.search(rf"\b{a}\W{{1,4}}{b}\b", text)]
    encoded = base64.b64encode(" ".join(words).encode()).decode()
    return found + (["the whole phrase, base64-encoded"] if encoded in text else [])


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `condition` until it returns a true value, which is returned; AssertionError naming `what` after
    `timeout` seconds. For waits on something a test cannot be told about: never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(interval)
    return result


# ---- Pulumi mocks ------------------------------------------------------------------------------------

class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registration, in order. A resource's outputs are its inputs plus what `answer` adds
    (e.g. what a provider would compute); its id is `<name>-id`."""

    def __init__(self, answer: Callable[[pulumi.runtime.MockResourceArgs], dict[str, Any]] | None = None):
        self.registered: list[pulumi.runtime.MockResourceArgs] = []
        self.answer = answer or (lambda _args: {})

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered.append(args)
        return [f"{args.name}-id", {**args.inputs, **self.answer(args)}]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

    @property
    def resources(self) -> dict[str, pulumi.runtime.MockResourceArgs]:
        """Registrations by resource name."""
        return {r.name: r for r in self.registered}

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.registered if r.typ == typ]

    def only(self, typ: str) -> pulumi.runtime.MockResourceArgs:
        [found] = self.of_type(typ)
        return found

    @property
    def objects(self) -> list[tuple[str, dict]]:
        """(type, inputs) of every registration, in order."""
        return [(r.typ, r.inputs) for r in self.registered]

    def named(self, typ: str) -> dict[str, dict]:
        """The inputs of the Kubernetes objects of one type, by metadata.name."""
        return {r.inputs["metadata"]["name"]: r.inputs for r in self.of_type(typ)}


class Recorder:
    """A transformation on a component: sees every child's options (dependencies, protection) and inputs."""

    def __init__(self) -> None:
        self.options: dict[str, pulumi.ResourceOptions] = {}
        self.props: dict[str, dict] = {}

    def __call__(self, args: pulumi.ResourceTransformationArgs):
        self.options[args.name], self.props[args.name] = args.opts, args.props
        return None


def ton_answer(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    """What the providers answer that the program reads: a shard batch's shard addresses, an AWS resource's ARN."""
    if args.typ == TON_SHARD_BATCH:
        return {"shards": args.inputs["addresses"]}
    if args.typ.startswith("aws:"):
        return {"arn": f"arn:aws:{args.typ.split(':')[1]}:eu-central-1:123456789012:{args.name}"}
    return {}


# ---- backend services --------------------------------------------------------------------------------

SERVICE_CONTRACTS = {"TON_NETWORK": "mainnet", "PRICING_ORACLE_ADDRESS": "EQ-oracle",
                     "POLICY_ROUTER_ADDRESS": "EQ-router"}


def build_backend_services(network: str, **services_config) -> tuple[StackConfig, Any]:
    """BackendServices of `network`'s config (with `services_config` merged into tonsurance:services)."""
    from components.services.backend_services import BackendServices, BackendServicesArgs
    from components.services.database_tls import DatabaseTls

    raw = raw_config(network)
    if services_config:
        raw["services"] = json.dumps({**json.loads(raw.get("services", "{}")), **services_config})
    cfg = parse(raw, stack=network)
    component = BackendServices("services", BackendServicesArgs(
        stack=network, network=network, namespace=f"tonsurance-{network}", images=cfg.kubernetes.images,
        contract_addresses=SERVICE_CONTRACTS, settings=cfg.services, database_port=cfg.database.port,
        database_tls=DatabaseTls.from_config(cfg.database)))
    return cfg, component


def run_backend_services(network: str, **services_config) -> None:
    """Build BackendServices under the installed mocks; returns once every registration is done."""
    @pulumi.runtime.test
    def program() -> None:
        build_backend_services(network, **services_config)

    program()


# ---- contracts -----------------------------------------------------------------------------------------

def contracts_args(network: str = "localnet", shard_count: int = 16, batch: int = 16, mnemonic: Any = "test words",
                   admin: str = "0:" + "a1" * 32, keepers: tuple[str, ...] = ("0:" + "b1" * 32, "0:" + "b2" * 32),
                   treasury: str = "0:" + "c1" * 32, claims: str = "0:" + "d1" * 32, chain: ChainSettings | None = None,
                   journal: str = "/tmp/journal.json", wait_seconds: float = 120.0) -> TonsuranceContractsArgs:
    """The contracts' arguments for `network` (raw addresses; a chain that is never reached unless given)."""
    chain = chain or ChainSettings(network, localnet_path="/tmp/chain.json" if network == "localnet" else None,
                                   liteserver_config_path=None if network == "localnet" else "/tmp/global.config.json")
    return TonsuranceContractsArgs(
        admin_address=admin, keeper_addresses=keepers, treasury_address=treasury, claims_processor_address=claims,
        shard_count=shard_count, shard_batch_size=batch,
        deployer=Deployer(chain, mnemonic, journal, wait_seconds=wait_seconds))


# ---- liteservers ---------------------------------------------------------------------------------------

def network_config(directory: Path, network: str = "testnet", **changes) -> str:
    """A global network config JSON of `network` in `directory`: two liteservers on 127.0.0.1, its zero state."""
    zero = {"workchain": -1, "shard": -9223372036854775808, "seqno": 0,
            "root_hash": ZERO_STATE_ROOT_HASHES[network], "file_hash": base64.b64encode(bytes(32)).decode()}
    config = {"liteservers": [{"ip": 2130706433, "port": 40000 + i,
                               "id": {"@type": "pub.ed25519", "key": base64.b64encode(keypair(i + 1)[0]).decode()}}
                              for i in range(2)],
              "validator": {"@type": "validator.config.global", "zero_state": zero, "init_block": zero}}
    config.update(changes)
    path = Path(directory) / f"{network}.json"
    path.write_text(json.dumps(config))
    return str(path)


# ---- canary gates ------------------------------------------------------------------------------------

def argo_measurement(metric: dict, result: list[float]) -> str:
    """The phase Argo Rollouts gives one measurement of an AnalysisTemplate `metric` whose Prometheus query
    returned a vector with the values `result`: Argo's rules (its utils/evaluate) over the conditions it
    evaluates with the expr language. Without a failureCondition, a success condition that is not true fails
    the measurement; both set and neither true is Inconclusive; an evaluation error (e.g. `result[0]` of an
    empty result) is Error. The conditions are read by a small evaluator of the expr forms they may use
    (comparisons, &&, ||, !, `result[i]`, `len(result)`, numbers); any other form fails the test loudly."""
    def holds(condition: str) -> bool:
        python = re.sub(r"!(?!=)", " not ", condition.replace("&&", " and ").replace("||", " or "))
        return bool(_evaluate(ast.parse(python.strip(), mode="eval").body, result))

    success, failure = metric.get("successCondition", ""), metric.get("failureCondition", "")
    try:
        succeeded = holds(success) if success else False
        failed = holds(failure) if failure else False
    except IndexError:
        return "Error"
    if not success and not failure:
        return "Successful"
    if success and not failure:
        failed = not succeeded
    elif failure and not success:
        succeeded = not failed
    if failed:
        return "Failed"
    return "Successful" if succeeded else "Inconclusive"


_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}


def _evaluate(node: ast.AST, result: list[float]) -> Any:
    if isinstance(node, ast.BoolOp):
        decisive = not isinstance(node.op, ast.And)   # the value that ends an `and` (False) or an `or` (True)
        for value in node.values:                      # left to right, stopping there, as expr does
            if bool(_evaluate(value, result)) == decisive:
                return decisive
        return not decisive
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        value = _evaluate(node.operand, result)
        return (not value) if isinstance(node.op, ast.Not) else -value
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, result)
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, result)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "result":
        return result[_evaluate(node.slice, result)]
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "len" and len(node.args) == 1:
        return len(_evaluate(node.args[0], result))
    if isinstance(node, ast.Name) and node.id == "result":
        return result
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    raise AssertionError(f"an analysis condition uses a form this evaluator does not know: {ast.dump(node)}")
