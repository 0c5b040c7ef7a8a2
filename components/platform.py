"""The Kubernetes footing of a stack: the provider every workload uses and the stack's namespace."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class PlatformArgs:
    namespace: str
    # Set on stacks without a cluster: the provider renders YAML into this directory instead of applying.
    render_manifests_to: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


class Platform(pulumi.ComponentResource):
    """Owns the Kubernetes provider and the namespace; later components take `provider` and `namespace`."""

    provider: k8s.Provider
    namespace: pulumi.Output[str]
    manifests_dir: str | None

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:platform:Platform", name, None, opts)
        self.manifests_dir = os.path.abspath(args.render_manifests_to) if args.render_manifests_to else None
        provider_args = {"render_yaml_to_directory": self.manifests_dir} if self.manifests_dir else {}
        self.provider = k8s.Provider(f"{name}-kubernetes", **provider_args,
                                     opts=pulumi.ResourceOptions(parent=self))
        labels = {"app.kubernetes.io/part-of": "tonsurance", **args.labels}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=labels),
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )
        self.namespace = namespace.metadata.name
        self.register_outputs({"namespace": self.namespace, "manifests_dir": self.manifests_dir})
