"""The `tonsurance:services` section: the backend services' domain, ingress, canary gates, Redis and secret store."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from config.reader import Reader
from config.rules import check_image
from config.types import ConfigError, RolloutConfig, ServicesConfig

SERVICES_KEYS = ("domain", "tlsIssuer", "rateLimitRps", "ingressNamespace", "prometheusNamespace", "replicas",
                 "pauseSeconds", "analysis", "prometheusUrl", "maxErrorRate", "maxP99Ms", "redis", "redisStorage",
                 "redisImage", "exporterImages", "secretStore", "loadBalancerCidrs", "acmeEmail", "acmeServer",
                 "analysisWindowSeconds", "analysisIntervalSeconds", "minRequests", "redisCaCert")
# Defaults per network: (replicas, pause seconds). Mainnet is the guide's 2/10, 5/10, 10/10 with 5 min pauses.
ROLLOUT_DEFAULTS = {"localnet": (2, 10), "testnet": (2, 60), "mainnet": (10, 300)}
ANALYSIS_WINDOW_SECONDS = 300  # both analyses measure over 5 min (the guide's windows)
# Defaults per network: (window, interval, minimum canary requests per window). The local stand-ins serve each
# pod 2 requests a second, so a local window of 1 min holds about 120 of a canary pod's requests.
ANALYSIS_DEFAULTS = {"localnet": (60, 15, 30), "testnet": (300, 60, 100), "mainnet": (300, 60, 100)}
PROMETHEUS_PORT_NAME = "prometheus"  # the local Prometheus's port in .state/ports.json (localcluster/ports.py)
REDIS_IMAGE = "redis:7.4.1-alpine"
# The PostgreSQL and Redis exporters (components/exporters.py) by name; mainnet names each by digest in config.
EXPORTER_IMAGES = {"postgres-exporter": "quay.io/prometheuscommunity/postgres-exporter:v0.20.1",
                   "redis-exporter": "oliver006/redis_exporter:v1.90.0"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
HOST = re.compile(r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
QUANTITY = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")
EMAIL = re.compile(r"^[^@\s]+@([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


def parse_services(read: Reader, network: str) -> ServicesConfig:
    raw = read.section("services", SERVICES_KEYS, '{"domain": "tonsurance.com", "tlsIssuer": "letsencrypt-prod", ...}')
    public = network != "localnet"
    where = f" on {network}"

    def get(key: str, kind: type, default: Any, needed: str | None = None) -> Any:
        return raw.get(key, kind, default, needed, where)

    def label(key: str, default: str | None, needed: str | None = None) -> str:
        value = get(key, str, default, needed)
        if not DNS_LABEL.match(value):
            raise ConfigError(f"services.{key}", f"must be a DNS-1123 label, got {value!r}")
        return value

    domain = get("domain", str, None if public else "tonsurance.localhost", "the public DNS domain (api.<domain>)")
    if not HOST.match(domain):
        raise ConfigError("services.domain", f"must be a DNS name like tonsurance.com, got {domain!r}")

    replicas_default, pause_default = ROLLOUT_DEFAULTS[network]
    analysis = get("analysis", bool, True)
    prometheus_url = get("prometheusUrl", str, None)
    if analysis and prometheus_url is None and public:  # local: the loader takes the checkout's (config/loader.py)
        raise ConfigError("services.prometheusUrl", f"is required on {network}: the Prometheus address the analyses query")
    if prometheus_url is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", prometheus_url):
        raise ConfigError("services.prometheusUrl", f"must be an http(s):// URL, got {prometheus_url!r}")
    rollout = RolloutConfig(
        replicas=raw.bounded("replicas", int, replicas_default, 1, 100),
        pause_seconds=raw.bounded("pauseSeconds", int, pause_default, 0, 86400),
        analysis=analysis, prometheus_url=prometheus_url,
        max_error_rate=float(raw.bounded("maxErrorRate", float, 0.01, 0.0001, 0.5)),
        max_p99_ms=raw.bounded("maxP99Ms", int, 500, 10, 60000),
        analysis_window_seconds=raw.bounded("analysisWindowSeconds", int, ANALYSIS_DEFAULTS[network][0], 30, 3600),
        analysis_interval_seconds=raw.bounded("analysisIntervalSeconds", int, ANALYSIS_DEFAULTS[network][1], 5, 600),
        min_requests=raw.bounded("minRequests", int, ANALYSIS_DEFAULTS[network][2], 1, 1_000_000))
    if rollout.analysis_interval_seconds > rollout.analysis_window_seconds:
        raise ConfigError("services.analysisIntervalSeconds", "must not exceed services.analysisWindowSeconds, got "
                                                              f"{rollout.analysis_interval_seconds}")
    if network == "mainnet":
        # The guide's gates are the floor on mainnet: an operator may tighten them, never loosen them.
        if not rollout.analysis:
            raise ConfigError("services.analysis", "cannot be false on mainnet: the canary is gated by Prometheus")
        if rollout.replicas < 5:
            raise ConfigError("services.replicas", f"must be at least 5 on mainnet (20% must be a minority), "
                                                   f"got {rollout.replicas}")
        if rollout.pause_seconds < ANALYSIS_WINDOW_SECONDS:
            raise ConfigError("services.pauseSeconds", f"must be at least {ANALYSIS_WINDOW_SECONDS} on mainnet "
                                                       f"(one full analysis window per step), got {rollout.pause_seconds}")
        if rollout.max_error_rate > 0.01:
            raise ConfigError("services.maxErrorRate", f"must be at most 0.01 on mainnet, got {rollout.max_error_rate}")
        if rollout.max_p99_ms > 500:
            raise ConfigError("services.maxP99Ms", f"must be at most 500 on mainnet, got {rollout.max_p99_ms}")
        if rollout.analysis_window_seconds < ANALYSIS_WINDOW_SECONDS:
            raise ConfigError("services.analysisWindowSeconds", f"must be at least {ANALYSIS_WINDOW_SECONDS} on mainnet "
                                                                f"(the guide's window), got {rollout.analysis_window_seconds}")

    redis = get("redis", str, "external" if public else "in-cluster")
    if redis not in ("in-cluster", "external"):
        raise ConfigError("services.redis", f"must be in-cluster or external, got {redis!r}")
    redis_storage = get("redisStorage", str, "1Gi" if network == "localnet" else "10Gi")
    if not QUANTITY.match(redis_storage):
        raise ConfigError("services.redisStorage", f"must be a size like 10Gi, got {redis_storage!r}")
    redis_image = get("redisImage", str, REDIS_IMAGE)
    # Only an in-cluster Redis runs this image: a managed one leaves it unused, so no digest is needed then.
    check_image("services.redisImage", redis_image, "testnet" if network == "mainnet" and redis != "in-cluster" else network)
    # A managed Redis is reached at a rediss:// URL (preflight refuses redis:// on public networks); its
    # certificate is verified against this CA bundle (a path inside the project or absolute), else the system's.
    redis_ca_cert = get("redisCaCert", str, None)
    if redis_ca_cert is not None and (not redis_ca_cert or ".." in redis_ca_cert.split("/")):
        raise ConfigError("services.redisCaCert", f"must be the path of a CA bundle (inside the project or absolute), "
                                                  f"got {redis_ca_cert!r}")
    exporter_images = get("exporterImages", dict, {})
    unknown = sorted(set(exporter_images) - set(EXPORTER_IMAGES))
    if unknown:
        raise ConfigError(f"services.exporterImages.{unknown[0]}", f"is not an exporter; they are {', '.join(EXPORTER_IMAGES)}")
    exporter_images = {**EXPORTER_IMAGES, **exporter_images}
    for name, image in exporter_images.items():
        check_image(f"services.exporterImages.{name}", image, network)

    # Who may tell nginx the client's address (X-Forwarded-For): the load balancer's ranges only; none by default.
    lb_cidrs = get("loadBalancerCidrs", list, [])
    for i, cidr in enumerate(lb_cidrs):
        try:
            network_ = ipaddress.ip_network(cidr, strict=True) if isinstance(cidr, str) else None
        except ValueError:
            network_ = None
        if network_ is None or network_.prefixlen == 0:
            raise ConfigError(f"services.loadBalancerCidrs[{i}]", f"must be the load balancer's address range such as "
                                                                  f"10.0.0.0/16 (never everything), got {cidr!r}")

    # The ClusterIssuer's ACME account (components/tls_issuer.py; required where the program installs cert-manager).
    acme_email = get("acmeEmail", str, None)
    if acme_email is not None and not EMAIL.match(acme_email):
        raise ConfigError("services.acmeEmail", f"must be an email address (the ACME account's), got {acme_email!r}")
    acme_server = get("acmeServer", str, LETSENCRYPT)
    if not re.match(r"^https://[^\s/]+/\S*$", acme_server):
        raise ConfigError("services.acmeServer", f"must be an ACME directory https:// URL, got {acme_server!r}")

    secret_store = get("secretStore", str, "aws" if public else "fake")
    if secret_store not in ("aws", "fake"):
        raise ConfigError("services.secretStore", f"must be aws or fake, got {secret_store!r}")
    if public and secret_store == "fake":
        raise ConfigError("services.secretStore", f"cannot be fake on {network}: secrets come from AWS Secrets Manager")
    # The store reads the secrets where the stack keeps them: the stack's one region, tonsurance:awsRegion.
    aws_region = read.optional("awsRegion")
    if secret_store == "aws" and aws_region is None:
        raise ConfigError("awsRegion", "is required when services.secretStore is aws: the region of Secrets Manager")
    return ServicesConfig(
        domain=domain,
        tls_issuer=label("tlsIssuer", None if public else "tonsurance-local-ca", "a cert-manager ClusterIssuer name"),
        rate_limit_rps=raw.bounded("rateLimitRps", int, 20, 1, 10000),
        ingress_namespace=label("ingressNamespace", "ingress-nginx"),
        prometheus_namespace=label("prometheusNamespace", "monitoring"),
        rollout=rollout, redis_in_cluster=redis == "in-cluster", redis_storage=redis_storage, redis_image=redis_image,
        exporter_images=exporter_images,
        secret_store=secret_store,
        aws_region=aws_region,
        load_balancer_cidrs=tuple(lb_cidrs), acme_email=acme_email, acme_server=acme_server,
        redis_ca_cert=redis_ca_cert)
