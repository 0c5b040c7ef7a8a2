"""Service secrets without their values: a ClusterSecretStore per stack (named after its namespace) and one
ExternalSecret per secret.

The program names keys in AWS Secrets Manager (`tonsurance/<stack>/<name>`); the External Secrets
controller copies each into a Kubernetes Secret `<name>` (key `value`) that pods reference by name. No
secret value passes through Pulumi. The `fake` store (local stack only; config/ refuses it elsewhere)
holds throwaway values so the same objects stay valid with no AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.services.catalog import EXTERNAL_SECRETS_SERVICE_ACCOUNT, REDIS_PASSWORD, REDIS_URL, secret_id

API_VERSION = "external-secrets.io/v1"
SECRET_KEY = "value"  # the one key of every Secret the ExternalSecrets make
REFRESH = "1h"  # how soon a rotated value reaches the Secret
READER_SERVICE_ACCOUNT = EXTERNAL_SECRETS_SERVICE_ACCOUNT  # the one the stack's secrets role trusts


@dataclass(frozen=True)
class ServiceSecretsArgs:
    stack: str
    namespace: pulumi.Input[str]
    names: tuple[str, ...]  # every secret stored in Secrets Manager (service_catalog.secret_names)
    store: str  # aws | fake
    aws_region: str | None = None
    # In-cluster Redis: `redis-url` is rendered from `redis-password` and this host instead of stored whole.
    redis_host: pulumi.Input[str] | None = None
    # The stack's own IAM role for reading its secrets (components/aws.py): the store authenticates as a
    # service account of the namespace annotated with it, instead of with the controller's credentials.
    aws_role_arn: pulumi.Input[str] | None = None


def fake_value(name: str) -> str:
    return f"throwaway-local-{name}"


class ServiceSecrets(pulumi.ComponentResource):
    """`secrets` maps each Kubernetes Secret name to the ExternalSecret that produces it."""

    secrets: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: ServiceSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:services:ServiceSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.store == "aws":
            provider = {"aws": {"service": "SecretsManager", "region": args.aws_region}}
            if args.aws_role_arn is not None:
                k8s.core.v1.ServiceAccount(f"{name}-reader", metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=READER_SERVICE_ACCOUNT, namespace=args.namespace,
                    annotations={"eks.amazonaws.com/role-arn": args.aws_role_arn}), opts=child)
                provider["aws"]["auth"] = {"jwt": {"serviceAccountRef": {"name": READER_SERVICE_ACCOUNT,
                                                                         "namespace": args.namespace}}}
        else:
            provider = {"fake": {"data": [{"key": secret_id(args.stack, n), "value": fake_value(n)} for n in args.names]}}
        # Named after the stack's namespace: cluster-scoped, it must not collide with another stack's store.
        store = k8s.apiextensions.CustomResource(
            f"{name}-store", api_version=API_VERSION, kind="ClusterSecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace),
            # Cluster-scoped, so limited to this stack's namespace: another stack's pods cannot read it.
            spec={"provider": provider, "conditions": [{"namespaces": [args.namespace]}]},
            opts=child)

        def external_secret(secret: str, data: list[dict], template: dict | None = None):
            target = {"name": secret, "creationPolicy": "Owner", **({"template": template} if template else {})}
            return k8s.apiextensions.CustomResource(
                f"{name}-{secret}", api_version=API_VERSION, kind="ExternalSecret",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=secret, namespace=args.namespace,
                                                    labels={"app.kubernetes.io/part-of": "tonsurance"}),
                spec={"refreshInterval": REFRESH, "secretStoreRef": {"kind": "ClusterSecretStore", "name": args.namespace},
                      "target": target, "data": data},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[store]))

        self.secrets = {
            secret: external_secret(secret, [{"secretKey": SECRET_KEY, "remoteRef": {"key": secret_id(args.stack, secret)}}])
            for secret in args.names
        }
        if args.redis_host:
            url = pulumi.Output.concat("redis://:{{ .password | urlquery }}@", args.redis_host, ":6379/0")
            self.secrets[REDIS_URL.name] = external_secret(
                REDIS_URL.name,
                [{"secretKey": "password", "remoteRef": {"key": secret_id(args.stack, REDIS_PASSWORD.name)}}],
                {"engineVersion": "v2", "data": {SECRET_KEY: url}})
        self.register_outputs({})
