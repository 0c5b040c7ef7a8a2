"""The Kubernetes footing of a stack: the provider every workload uses and the stack's namespace."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.services.pod_security import RESTRICTED_NAMESPACE_LABELS


@dataclass(frozen=True)
class PlatformArgs:
    namespace: str
    # Set on stacks without a cluster: the provider renders YAML into this directory instead of applying.
    render_manifests_to: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    # Path of the cluster's kubeconfig (the local stack's: .state/cluster/local/kubeconfig); None: ambient.
    kubeconfig: str | None = None


class Platform(pulumi.ComponentResource):
    """Owns the Kubernetes provider and the namespace; later components take `provider` and `namespace`."""

    provider: k8s.Provider
    namespace: pulumi.Output[str]
    manifests_dir: str | None

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:platform:Platform", name, None, opts)
        self.manifests_dir = os.path.abspath(args.render_manifests_to) if args.render_manifests_to else None
        provider_args: dict[str, str] = {}
        if self.manifests_dir:
            provider_args["render_yaml_to_directory"] = self.manifests_dir
        elif args.kubeconfig:
            provider_args["kubeconfig"] = os.path.abspath(args.kubeconfig)
            check_cluster_answers(provider_args["kubeconfig"])
        self.provider = k8s.Provider(f"{name}-kubernetes", **provider_args,
                                     opts=pulumi.ResourceOptions(parent=self))
        # Pod Security Admission: the API server itself refuses a pod that breaks the "restricted" profile.
        labels = {"app.kubernetes.io/part-of": "tonsurance", **RESTRICTED_NAMESPACE_LABELS, **args.labels}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=labels),
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )
        self.namespace = namespace.metadata.name
        self.register_outputs({"namespace": self.namespace, "manifests_dir": self.manifests_dir})


def check_cluster_answers(kubeconfig: str) -> None:
    """Fail early with a clear message when the kubeconfig's API server does not accept connections (the
    provider's own error for a stopped cluster is a long "unreachable cluster" text)."""
    start_hint = "start the local cluster with `scripts/cluster start` (`make up` does)"
    try:
        config = yaml.safe_load(open(kubeconfig))
    except OSError as err:
        raise pulumi.RunError(f"config tonsurance:kubeconfig: cannot read {kubeconfig} ({err.strerror}): "
                              f"{start_hint}") from None
    contexts = {c["name"]: c["context"] for c in config.get("contexts") or []}
    clusters = {c["name"]: c["cluster"] for c in config.get("clusters") or []}
    context = contexts.get(config.get("current-context", ""))
    server = clusters.get(context["cluster"], {}).get("server") if context else None
    if not server:
        raise pulumi.RunError(f"config tonsurance:kubeconfig: {kubeconfig} has no current context with a server")
    url = urlsplit(server)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=5).close()
    except OSError as err:
        raise pulumi.RunError(f"the Kubernetes API server {server} (from {kubeconfig}) does not answer "
                              f"({err.strerror or err}): {start_hint}") from None
