"""Service secrets without their values: one ClusterSecretStore per secret set and one ExternalSecret per secret.

The program names keys in AWS Secrets Manager (`tonsurance/<stack>/<name>`); the External Secrets
controller copies each into a Kubernetes Secret `<name>` (key `value`) that pods reference by name. No
secret value passes through Pulumi. The secrets are grouped in sets by who reads them (catalog.secret_sets:
each keeper's mnemonic, the backend's market data keys, the shared rest); each set has its own store, which
authenticates as its own service account in the namespace `<namespace>-secrets` (no workload runs there, so
nobody who can create pods in the application namespace can borrow it), whose IAM role reads that set only
(components/aws.py). The `fake` store (local stack only; config/ refuses it elsewhere) holds throwaway
values so the same objects stay valid with no AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.services.catalog import (GRAFANA_ADMIN, GRAFANA_SET, REDIS_PASSWORD, REDIS_URL, secret_id,
                                         secret_reader_account, secret_readers_namespace)
from components.services.pod_security import RESTRICTED_NAMESPACE_LABELS

API_VERSION = "external-secrets.io/v1"
SECRET_KEY = "value"  # the one key of every Secret the ExternalSecrets make
REFRESH = "1h"  # how soon a rotated value reaches the Secret
# The keys kube-prometheus-stack's Grafana reads from its existingSecret (components/platform_charts.py).
GRAFANA_USER_KEY, GRAFANA_PASSWORD_KEY, GRAFANA_USER = "admin-user", "admin-password", "admin"


@dataclass(frozen=True)
class ServiceSecretsArgs:
    stack: str
    namespace: pulumi.Input[str]
    sets: Mapping[str, tuple[str, ...]]  # secret set -> the secrets in Secrets Manager (catalog.secret_sets)
    store: str  # aws | fake
    aws_region: str | None = None
    # In-cluster Redis: `redis-url` is rendered from `redis-password` and this host instead of stored whole.
    redis_host: pulumi.Input[str] | None = None
    # Public stacks: each set's IAM role (components/aws.py); its store authenticates as the set's service account.
    aws_role_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # The Grafana admin set's namespace (the monitoring chart's), when the stack installs that chart.
    grafana_namespace: str | None = None


def fake_value(name: str) -> str:
    return f"throwaway-local-{name}"


def set_namespace(args: ServiceSecretsArgs, secret_set: str) -> pulumi.Input[str]:
    """Where a set's Secrets live and the only namespace its store admits: the stack's; Grafana's its chart's."""
    if secret_set == GRAFANA_SET:
        if args.grafana_namespace is None:
            raise ValueError("the grafana secret set needs ServiceSecretsArgs.grafana_namespace")
        return args.grafana_namespace
    return args.namespace


def store_name(namespace: str, secret_set: str) -> str:
    """Cluster-scoped: named after the stack's namespace so it never collides with another stack's store."""
    return f"{namespace}-{secret_set}"


class ServiceSecrets(pulumi.ComponentResource):
    """`secrets` maps each Kubernetes Secret name to the ExternalSecret that produces it."""

    secrets: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: ServiceSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:services:ServiceSecrets", name, None, opts)
        namespace = pulumi.Output.from_input(args.namespace)
        readers = None
        if args.store == "aws" and args.aws_role_arns:
            readers = k8s.core.v1.Namespace(f"{name}-readers", metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace.apply(secret_readers_namespace),
                labels={"app.kubernetes.io/part-of": "tonsurance", **RESTRICTED_NAMESPACE_LABELS}),
                opts=pulumi.ResourceOptions(parent=self))
        stores, store_of = {}, {}
        for secret_set, names in args.sets.items():
            stores[secret_set] = self._store(name, args, namespace, secret_set, names, readers)
            store_of.update({secret: secret_set for secret in names})

        def external_secret(secret: str, secret_set: str, data: list[dict], template: dict | None = None):
            target = {"name": secret, "creationPolicy": "Owner", **({"template": template} if template else {})}
            return k8s.apiextensions.CustomResource(
                f"{name}-{secret}", api_version=API_VERSION, kind="ExternalSecret",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=secret, namespace=set_namespace(args, secret_set),
                                                    labels={"app.kubernetes.io/part-of": "tonsurance"}),
                spec={"refreshInterval": REFRESH,
                      "secretStoreRef": {"kind": "ClusterSecretStore",
                                         "name": namespace.apply(lambda n: store_name(n, secret_set))},
                      "target": target, "data": data},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[stores[secret_set]]))

        self.secrets = {
            secret: external_secret(secret, secret_set,
                                    [{"secretKey": SECRET_KEY, "remoteRef": {"key": secret_id(args.stack, secret)}}])
            for secret, secret_set in store_of.items() if secret != GRAFANA_ADMIN
        }
        if GRAFANA_ADMIN in store_of:  # the chart's keys: admin-user (fixed) and admin-password (the stored value)
            self.secrets[GRAFANA_ADMIN] = external_secret(
                GRAFANA_ADMIN, GRAFANA_SET,
                [{"secretKey": "password", "remoteRef": {"key": secret_id(args.stack, GRAFANA_ADMIN)}}],
                {"engineVersion": "v2", "data": {GRAFANA_USER_KEY: GRAFANA_USER, GRAFANA_PASSWORD_KEY: "{{ .password }}"}})
        if args.redis_host:
            url = pulumi.Output.concat("redis://:{{ .password | urlquery }}@", args.redis_host, ":6379/0")
            self.secrets[REDIS_URL.name] = external_secret(
                REDIS_URL.name, store_of[REDIS_PASSWORD.name],
                [{"secretKey": "password", "remoteRef": {"key": secret_id(args.stack, REDIS_PASSWORD.name)}}],
                {"engineVersion": "v2", "data": {SECRET_KEY: url}})
        self.register_outputs({})

    def _store(self, name: str, args: ServiceSecretsArgs, namespace: pulumi.Output[str], secret_set: str,
               names: tuple[str, ...], readers: k8s.core.v1.Namespace | None) -> k8s.apiextensions.CustomResource:
        if args.store == "aws":
            provider: dict = {"aws": {"service": "SecretsManager", "region": args.aws_region}}
            if readers is not None:
                account = secret_reader_account(secret_set)
                k8s.core.v1.ServiceAccount(f"{name}-reader-{secret_set}", metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=account, namespace=readers.metadata.name,
                    annotations={"eks.amazonaws.com/role-arn": args.aws_role_arns[secret_set]}),
                    automount_service_account_token=False, opts=pulumi.ResourceOptions(parent=self))
                provider["aws"]["auth"] = {"jwt": {"serviceAccountRef": {"name": account,
                                                                         "namespace": readers.metadata.name}}}
        else:
            provider = {"fake": {"data": [{"key": secret_id(args.stack, n), "value": fake_value(n)} for n in names]}}
        return k8s.apiextensions.CustomResource(
            f"{name}-store-{secret_set}", api_version=API_VERSION, kind="ClusterSecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace.apply(lambda n: store_name(n, secret_set))),
            # Cluster-scoped, so limited to this stack's namespace: another stack's pods cannot read it.
            spec={"provider": provider, "conditions": [{"namespaces": [set_namespace(args, secret_set)]}]},
            opts=pulumi.ResourceOptions(parent=self))
