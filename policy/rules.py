"""The policy pack's rules, as pure functions over the stack's resources (tested without the engine).

Each rule takes every resource of the stack (a `Resource`: type, name, URN, input properties, protect)
and returns its violations as (URN, message). Where config/ has the same rule, the rule calls it
(config/rules.py: `check_image`, `deployer_address_conflicts`): there is one copy of each rule.
Rules that differ by network read the network from the TON resources' chain settings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from pulumi_policy.proxy import UnknownValueError

from resource_types import (
    ARGO_ROLLOUT, K8S_CRON_JOB, K8S_DAEMON_SET, K8S_DEPLOYMENT, K8S_JOB, K8S_SECRET, K8S_STATEFUL_SET,
    S3_BUCKET_ENCRYPTION, S3_BUCKET_PUBLIC_ACCESS_BLOCK, S3_BUCKETS, SQL_MIGRATIONS, TON_CONTRACT, TON_DEPLOYMENT,
    TON_RESOURCES,
)

# Workload kind -> path from the resource's props to its pod spec.
LONG_RUNNING = {K8S_DEPLOYMENT: ("spec", "template", "spec"), ARGO_ROLLOUT: ("spec", "template", "spec"),
                K8S_STATEFUL_SET: ("spec", "template", "spec"), K8S_DAEMON_SET: ("spec", "template", "spec")}
WORKLOADS = {**LONG_RUNNING, K8S_JOB: ("spec", "template", "spec"),
             K8S_CRON_JOB: ("spec", "jobTemplate", "spec", "template", "spec")}
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
CANARY_WEIGHTS = (20, 50)  # the guide's 20% / 50% / 100% rollout
UNKNOWN = object()  # a value computed during the update (unknown at preview)

Violation = tuple[str, str]  # (URN, message)


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False
    dependencies: frozenset[str] = field(default_factory=frozenset)  # URNs this resource depends on

    @classmethod
    def from_policy(cls, r) -> "Resource":
        """From a pulumi_policy PolicyResource."""
        deps = {d.urn for d in r.dependencies or []}
        deps |= {d.urn for ds in (r.property_dependencies or {}).values() for d in ds}
        return cls(r.resource_type, r.name, r.urn, r.props, bool(r.opts and r.opts.protect), frozenset(deps))

    def get(self, *path: str) -> Any:
        """The property at `path`: None when absent, UNKNOWN when not known until the update runs."""
        node: Any = self.props
        try:
            for key in path:
                if not isinstance(node, Mapping) or key not in node:
                    return None
                node = node[key]
        except UnknownValueError:
            return UNKNOWN
        return node


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Callable[[list[Resource]], Iterable[Violation]]


def stack_network(resources: list[Resource]) -> str | None:
    """The TON network the stack deploys to, from its TON resources' chain settings (the deployment that sends
    every contract included)."""
    for r in resources:
        if r.type in TON_RESOURCES and isinstance(r.get("chain", "network"), str):
            return r.get("chain", "network")
    return None


# ---- TON contracts -----------------------------------------------------------------------------------

def contracts_protected(resources: list[Resource]) -> Iterator[Violation]:
    if stack_network(resources) != "mainnet":
        return
    for r in resources:
        if r.type in TON_RESOURCES and not r.protect:
            yield r.urn, (f"{r.name} is not protected: on mainnet every contract, shard batch and the deployment "
                          "that sends them is protected and retained on delete (protect=True, retain_on_delete=True)")


def contract_admins(resources: list[Resource]) -> Iterator[Violation]:
    """The admin each contract would have, read by its getter after executing its deploy on a private TVM,
    is one address for all contracts and none of the deployer mnemonic's wallets."""
    from config import deployer_address_conflicts

    admins: dict[tuple[str, str], str] = {}   # (URN, contract) -> admin
    for r in resources:
        found = deployed_admins(r)
        if not found:
            continue
        admins.update({(r.urn, contract): admin for contract, admin in found.items()})
        mnemonic = deployer_words(r)
        if mnemonic is None:
            continue
        for contract, admin in found.items():
            for _name, kind in deployer_address_conflicts({"admin": admin}, mnemonic):
                yield r.urn, (f"{contract}: its admin {admin} is the deployer's {kind} address; the admin must be "
                              "the multisig (tonsurance:adminAddress) and the deployer wallet only pays")
    if len(set(admins.values())) > 1:
        for (urn, contract), admin in admins.items():
            yield urn, (f"contracts disagree on their admin ({', '.join(sorted(set(admins.values())))}): {contract} "
                        f"has {admin}")


def deployer_words(r: Resource) -> str | None:
    """The deployer mnemonic of a TON resource: its secret input, or read from Secrets Manager by its reference
    the way the provider reads it (mainnet; the analyzer runs with the operator's AWS identity)."""
    from ton_deploy.mnemonic import resolve_deployer_mnemonic

    words, ref = r.get("deployer_mnemonic"), r.get("deployer_mnemonic_ref")
    if isinstance(words, str):
        return words
    if isinstance(ref, Mapping) and ref.get("secret_id") and ref.get("region"):
        return resolve_deployer_mnemonic({"deployer_mnemonic_ref": {"secret_id": ref["secret_id"],
                                                                    "region": ref["region"]}})
    return None


def deployed_admins(r: Resource) -> dict[str, str]:
    """`get_admin` of each contract with an admin that a TON resource deploys (a TonContract: itself; the
    TonDeployment: every contract it sends), read after executing its code + init data on a private TVM.
    Keys say which contract ("PricingOracle contracts-pricing-oracle", "PolicyRouter policy-router in ...")."""
    if r.type == TON_CONTRACT:
        code, data, kind = r.get("code_boc"), r.get("data_boc"), r.get("kind")
        admin = _admin_of(kind, code, data)
        return {f"{kind} {r.name}": admin} if admin else {}
    if r.type != TON_DEPLOYMENT:
        return {}
    codes, planned = r.get("codes"), r.get("contracts")
    if not isinstance(codes, Mapping) or not isinstance(planned, Mapping):
        return {}
    found = {}
    for name, item in planned.items():
        if isinstance(item, Mapping) and (admin := _admin_of(item.get("kind"), codes.get(item.get("code_hash")),
                                                              item.get("data_boc"))):
            found[f"{item['kind']} {name} in {r.name}"] = admin
    return found


def _admin_of(kind: Any, code: Any, data: Any) -> str | None:
    """The admin of a contract of `kind` with this code and init data (None: no admin getter, or unknown)."""
    from chain.sandbox import FAUCET_ADDRESS, Sandbox
    from contracts.base import TON
    from contracts.multi_tranche_vault import MultiTrancheVault
    from contracts.policy_router import PolicyRouter
    from contracts.pricing_oracle import PricingOracle
    from ton_deploy.targets import cell_from_b64, target_of

    wrapper = {w.__name__: w for w in (PricingOracle, MultiTrancheVault, PolicyRouter)}.get(kind)
    if wrapper is None or not isinstance(code, str) or not isinstance(data, str):
        return None
    target = target_of(cell_from_b64(code), cell_from_b64(data))
    sandbox = Sandbox()
    sandbox.send_internal(sender=FAUCET_ADDRESS, to=target.address, value=TON, state_init=target.state_init,
                          bounce=False)
    return wrapper(target.address).get_admin(sandbox.run_get_method).to_str(is_user_friendly=False)


# ---- Kubernetes workloads -----------------------------------------------------------------------------

def pod_spec(r: Resource) -> Any:
    return r.get(*WORKLOADS[r.type])


def containers(r: Resource) -> list[Mapping[str, Any]]:
    spec = pod_spec(r)
    if not isinstance(spec, Mapping):
        return []
    found = []
    for key in ("initContainers", "containers"):
        try:
            items = spec.get(key) or []
            found.extend(c for c in items if isinstance(c, Mapping))
        except UnknownValueError:
            continue
    return found


def images_pinned(resources: list[Resource]) -> Iterator[Violation]:
    from config import ConfigError, check_image

    # Never latest on any network (the public networks' rule, for local workloads too); by digest on mainnet.
    network = "mainnet" if stack_network(resources) == "mainnet" else "testnet"
    for r in resources:
        if r.type not in WORKLOADS:
            continue
        for c in containers(r):
            image = _known(c, "image")
            try:
                if image is not UNKNOWN:
                    check_image("image", image, network)
            except ConfigError as error:
                problem = str(error).split(": ", 1)[1].replace(" on testnet", "")
                yield r.urn, f"{r.name}: container {_known(c, 'name')!r} image {problem}"


def workloads_hardened(resources: list[Resource]) -> Iterator[Violation]:
    for r in resources:
        if r.type not in WORKLOADS:
            continue
        pod_non_root = _non_root(_known(pod_spec(r) or {}, "securityContext"))
        for c in containers(r):
            name = _known(c, "name")
            missing = [p for p in ("livenessProbe", "readinessProbe") if r.type in LONG_RUNNING and not _known(c, p)]
            resources_ = _known(c, "resources") or {}
            for kind in ("requests", "limits"):
                given = _known(resources_, kind) if isinstance(resources_, Mapping) else None
                if given is not UNKNOWN and not (isinstance(given, Mapping) and {"cpu", "memory"} <= set(given)):
                    missing.append(f"resources.{kind} (cpu and memory)")
            container_non_root = _non_root(_known(c, "securityContext"))
            if not (container_non_root or (pod_non_root and container_non_root is not False)):
                missing.append("runAsNonRoot: true")
            if missing:
                yield r.urn, f"{r.name}: container {name!r} lacks {', '.join(missing)}"


def _non_root(security_context: Any) -> bool | None:
    """True when the context makes the process non-root, False when it forces root, None when silent."""
    if not isinstance(security_context, Mapping):
        return None
    if _known(security_context, "runAsUser") == 0 or _known(security_context, "runAsNonRoot") is False:
        return False
    return True if _known(security_context, "runAsNonRoot") is True else None


def no_literal_secrets(resources: list[Resource]) -> Iterator[Violation]:
    for r in resources:
        if r.type == K8S_SECRET and any(r.get(key) for key in ("data", "stringData")):
            yield r.urn, (f"{r.name}: a Kubernetes Secret with data from the program puts the value in the state "
                          "and the manifests; use an ExternalSecret that reads AWS Secrets Manager")


def canary_on_mainnet(resources: list[Resource]) -> Iterator[Violation]:
    if stack_network(resources) != "mainnet":
        return
    for r in resources:
        if r.type == K8S_DEPLOYMENT and _replicas(r) > 1:
            yield r.urn, (f"{r.name}: a user-facing service ({_replicas(r)} replicas) on mainnet rolls out as an "
                          "Argo Rollout canary (20%, 50%, 100%), not a Deployment")
        if r.type == ARGO_ROLLOUT:
            steps = r.get("spec", "strategy", "canary", "steps")
            weights = {s.get("setWeight") for s in steps or [] if isinstance(s, Mapping)} if steps is not UNKNOWN else None
            if weights is not None and not set(CANARY_WEIGHTS) <= weights:
                yield r.urn, f"{r.name}: the Rollout's canary steps must set weights 20 and 50 before 100%"


def _replicas(r: Resource) -> int:
    replicas = r.get("spec", "replicas")
    return replicas if isinstance(replicas, int) else 1


# ---- database and backups -----------------------------------------------------------------------------

def migrations_after_backup(resources: list[Resource]) -> Iterator[Violation]:
    for r in resources:
        if r.type == SQL_MIGRATIONS and r.get("backup_id") is None:
            yield r.urn, (f"{r.name}: migrations run only after a verified backup "
                          "(tonsurance:backupBeforeMigrate and tonsurance:backupStore)")


def backup_buckets_private(resources: list[Resource]) -> Iterator[Violation]:
    for bucket in (r for r in resources if r.type in S3_BUCKETS):
        related = [r for r in resources if bucket.urn in r.dependencies]
        encrypted = bucket.get("serverSideEncryptionConfiguration") or any(r.type in S3_BUCKET_ENCRYPTION for r in related)
        blocks = [r for r in related if r.type == S3_BUCKET_PUBLIC_ACCESS_BLOCK]
        if not encrypted:
            yield bucket.urn, f"{bucket.name}: the backup bucket has no server-side encryption configuration"
        if not any(all(b.get(flag) in (True, UNKNOWN) for flag in PUBLIC_ACCESS_FLAGS) for b in blocks):
            yield bucket.urn, (f"{bucket.name}: the backup bucket needs a public access block with "
                               f"{', '.join(PUBLIC_ACCESS_FLAGS)} all true")
        if bucket.get("acl") not in (None, UNKNOWN, "private"):
            yield bucket.urn, f"{bucket.name}: the backup bucket's ACL is {bucket.get('acl')!r}, not private"


def _known(mapping: Any, key: str) -> Any:
    try:
        return mapping.get(key) if isinstance(mapping, Mapping) else None
    except UnknownValueError:
        return UNKNOWN


RULES = (
    Rule("ton-contracts-protected", "TON contracts are protected and retained on delete on mainnet",
         contracts_protected),
    Rule("contract-admin-is-multisig", "Every contract's admin is the one multisig, never the deployer wallet",
         contract_admins),
    Rule("images-pinned", "Images carry a tag or a digest, never 'latest'; on mainnet a digest", images_pinned),
    Rule("workloads-hardened", "Workloads have probes, resource requests and limits, and run as non-root",
         workloads_hardened),
    Rule("no-literal-secrets", "No Kubernetes Secret carries literal data from the program", no_literal_secrets),
    Rule("canary-on-mainnet", "User-facing services on mainnet use the canary rollout", canary_on_mainnet),
    Rule("migrations-after-verified-backup", "Migrations depend on a verified backup", migrations_after_backup),
    Rule("backup-bucket-private", "The backup bucket is encrypted and not public", backup_buckets_private),
)
