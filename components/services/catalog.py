"""The table of the five backend workloads: everything that differs between them, in one place.

`components/services/workload.py` builds every workload from one row of this table (guestbook's
`ServiceDeployment` shape), and other parts of the program read the same rows:

- monitoring: one ServiceMonitor per row, port named `METRICS_PORT_NAME`, path `METRICS_PATH`, selecting
  the Service by `selector_labels(row.name)`;
- AWS: one Secrets Manager container per name in `secret_names(...)`, id `secret_id(stack, name)`;
- config: `tonsurance:images` has one key per row (config/types.py, `IMAGE_KEYS`);
- ops: the image of each workload is `cfg.kubernetes.images[row.image_key]` (the rollback reads it back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

from chain.client import NETWORKS
from config.types import IMAGE_KEYS

# The image key (`tonsurance:images`) of each workload, named once in config.
BACKEND_IMAGE, PRICING_KEEPER_IMAGE, BRIDGE_HEALTH_KEEPER_IMAGE, API_V2_IMAGE, WEBSOCKET_V2_IMAGE = IMAGE_KEYS

# The service accounts of the stack's secret stores, one per secret set (secret_sets), live in their own namespace
# (no workload runs there); each set's IAM role trusts only its account (components/aws.py).
def secret_readers_namespace(namespace: str) -> str:
    return f"{namespace}-secrets"


def secret_reader_account(secret_set: str) -> str:
    return f"secrets-{secret_set}"
HTTP_PORT_NAME = "http"
METRICS_PORT_NAME = "metrics"
METRICS_PATH = "/metrics"
HEALTH_PATH = "/health"
CONTRACT_ADDRESSES = "contract-addresses"  # the ConfigMap built from the contracts' keeper_config
INGRESS_CLASS = "nginx"  # the ingress-nginx chart's class: the ingresses name it, the ACME solver uses it


@dataclass(frozen=True)
class SecretSpec:
    """A secret a workload reads: Kubernetes Secret `name` (key `value`), made by an ExternalSecret from
    Secrets Manager id `tonsurance/<stack>/<name>`, exposed to the container as `env`."""

    name: str
    env: str


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # Kubernetes name of the workload, its Service and ServiceAccount
    image_key: str  # key of `tonsurance:images`
    component: str  # app.kubernetes.io/component
    # rollout: an Argo Rollouts canary with analysis; singleton: one replica, Deployment with Recreate
    kind: Literal["rollout", "singleton"]
    port: int  # HTTP port (API, health)
    metrics_port: int
    secrets: tuple[SecretSpec, ...]
    resources: Mapping[str, Resources]  # per network
    public_host: str | None = None  # exposed through nginx at <public_host>.<domain>
    calls: tuple[str, ...] = ()  # other workloads it calls in the namespace (NetworkPolicy egress)
    internet: bool = False  # needs HTTPS egress outside the cluster (TON RPC, market data, Slack)
    long_lived: bool = False  # WebSocket: the ingress keeps idle connections open for an hour

    @property
    def replicated(self) -> bool:
        return self.kind == "rollout"

    @property
    def secret_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.secrets)


DATABASE_URL = SecretSpec("database-url", "DATABASE_URL")
REDIS_URL = SecretSpec("redis-url", "REDIS_URL")
JWT_SECRET = SecretSpec("jwt-secret", "JWT_SECRET")
SLACK_WEBHOOK = SecretSpec("slack-webhook-url", "SLACK_WEBHOOK_URL")
MARKET_DATA_KEYS = (SecretSpec("polymarket-api-key", "POLYMARKET_API_KEY"),
                    SecretSpec("binance-api-key", "BINANCE_API_KEY"),
                    SecretSpec("allianz-api-key", "ALLIANZ_API_KEY"))
# In-cluster Redis reads its password from here; its ExternalSecret also renders `redis-url` from it.
REDIS_PASSWORD = SecretSpec("redis-password", "REDIS_PASSWORD")
# Read by Alertmanager (the on-call receiver of components/monitoring.py), not by a workload.
PAGERDUTY_ROUTING_KEY = SecretSpec("pagerduty-routing-key", "PAGERDUTY_ROUTING_KEY")


def _sized(small: Resources, large: Resources) -> dict[str, Resources]:
    return {network: large if network == "mainnet" else small for network in NETWORKS}


_API = _sized(Resources("100m", "128Mi", "500m", "256Mi"), Resources("500m", "512Mi", "2", "1Gi"))
_KEEPER = _sized(Resources("50m", "64Mi", "250m", "128Mi"), Resources("200m", "256Mi", "1", "512Mi"))

SERVICES: tuple[ServiceSpec, ...] = (
    # Oracle aggregation and pricing: reads market data, serves prices to the API and the pricing keeper.
    ServiceSpec("ocaml-backend", BACKEND_IMAGE, "backend", "rollout", 8080, 9090,
                (DATABASE_URL, REDIS_URL, *MARKET_DATA_KEYS),
                _sized(Resources("100m", "256Mi", "1", "512Mi"), Resources("1", "1Gi", "4", "2Gi")),
                internet=True),
    # Signs oracle updates with its own wallet: prices from the backend, messages to TON RPC.
    ServiceSpec("pricing-keeper", PRICING_KEEPER_IMAGE, "keeper", "singleton", 8080, 9090,
                (SecretSpec("pricing-keeper-mnemonic", "KEEPER_MNEMONIC"), SLACK_WEBHOOK), _KEEPER,
                calls=("ocaml-backend",), internet=True),
    # Watches the bridges and reports their health on chain with its own wallet; records it in Postgres.
    ServiceSpec("bridge-health-keeper", BRIDGE_HEALTH_KEEPER_IMAGE, "keeper", "singleton", 8080, 9090,
                (SecretSpec("bridge-health-keeper-mnemonic", "KEEPER_MNEMONIC"), DATABASE_URL, SLACK_WEBHOOK),
                _KEEPER, internet=True),
    ServiceSpec("api-v2", API_V2_IMAGE, "api", "rollout", 8080, 9090, (DATABASE_URL, REDIS_URL, JWT_SECRET), _API,
                public_host="api", calls=("ocaml-backend",)),
    ServiceSpec("websocket-v2", WEBSOCKET_V2_IMAGE, "websocket", "rollout", 8080, 9090, (REDIS_URL, JWT_SECRET), _API,
                public_host="ws", calls=("ocaml-backend",), long_lived=True),
)
SERVICES_BY_NAME: Mapping[str, ServiceSpec] = {s.name: s for s in SERVICES}


def selector_labels(name: str) -> dict[str, str]:
    """The labels a workload's pods and Service are selected by (never change: selectors are immutable)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "tonsurance"}


def secret_names(redis_in_cluster: bool, grafana: bool = False) -> tuple[str, ...]:
    """Every secret name the stack's pods read from Secrets Manager, sorted. With in-cluster Redis the
    `redis-url` Secret is rendered from `redis-password`; with a managed Redis it is stored whole. With the
    monitoring chart's Grafana (`grafana`), its admin password too."""
    names = {name for service in SERVICES for name in service.secret_names} | {PAGERDUTY_ROUTING_KEY.name}
    if redis_in_cluster:
        names = (names - {REDIS_URL.name}) | {REDIS_PASSWORD.name}
    return tuple(sorted(names | ({GRAFANA_ADMIN} if grafana else set())))


SHARED_SET = "shared"  # the reader set of secrets that more than one workload (or none) reads
# kube-prometheus-stack's Grafana reads its admin from the Secret `grafana-admin` in its own namespace
# (components/platform_charts.py, existingSecret): a set of its own, whose store admits that namespace only.
GRAFANA_ADMIN = "grafana-admin"
GRAFANA_SET = "grafana"


def secret_sets(redis_in_cluster: bool, grafana: bool = False) -> dict[str, tuple[str, ...]]:
    """The stack's secrets grouped by who may read them: a secret only one workload reads is in that workload's
    set (its keeper mnemonic, its market data keys); every other one is in the shared set. Each set has its own
    store, service account and IAM role (components/services/secrets.py, components/aws.py), so the role that
    syncs the API's secrets cannot read a keeper's mnemonic."""
    names = secret_names(redis_in_cluster)
    readers = {name: {s.name for s in SERVICES if name in s.secret_names} for name in names}
    sets: dict[str, list[str]] = {}
    for name in names:
        owner = next(iter(readers[name])) if len(readers[name]) == 1 else SHARED_SET
        sets.setdefault(owner, []).append(name)
    if grafana:
        sets[GRAFANA_SET] = [GRAFANA_ADMIN]
    return {owner: tuple(members) for owner, members in sorted(sets.items())}


def secret_id(stack: str, name: str) -> str:
    """The Secrets Manager id of one secret of one stack."""
    return f"tonsurance/{stack}/{name}"
