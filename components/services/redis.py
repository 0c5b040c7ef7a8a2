"""In-cluster Redis for stacks that ask for it: one StatefulSet with a PVC, a password from `redis-password`,
and a NetworkPolicy that admits only the workloads that read `redis-url`. Stacks with a managed Redis skip
this component; their `redis-url` secret points at it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.services.catalog import REDIS_PASSWORD
from components.services.pod_security import container_security, pod_security, tmp_volume
from components.services.secrets import SECRET_KEY

NAME = "redis"
PORT = 6379
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "tonsurance"}


@dataclass(frozen=True)
class RedisArgs:
    namespace: pulumi.Input[str]
    image: str
    storage: str  # PVC size
    clients: tuple[dict[str, str], ...]  # pod labels of the workloads allowed to connect
    # The local cluster has no storage provisioner: a hostPath PersistentVolume is made and bound to the claim
    # here instead (its pods are simulated, so nothing is written to the host).
    prebound_volume: bool = False


class Redis(pulumi.ComponentResource):
    host: pulumi.Output[str]  # the Service's cluster DNS name

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("tonsurance:services:Redis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        meta = k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=args.namespace, labels=LABELS)
        k8s.core.v1.Service(f"{name}-service", metadata=meta, spec=k8s.core.v1.ServiceSpecArgs(
            cluster_ip="None", selector=LABELS,
            ports=[k8s.core.v1.ServicePortArgs(name="redis", port=PORT, target_port="redis")]), opts=child)
        password = k8s.core.v1.EnvVarArgs(name=REDIS_PASSWORD.env, value_from=k8s.core.v1.EnvVarSourceArgs(
            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=REDIS_PASSWORD.name, key=SECRET_KEY)))
        storage_class, retention = None, None
        if args.prebound_volume:
            storage_class = ""  # no default class: bind only to the volume below
            # The claim goes with the StatefulSet, so the volume (held by its claim) can be deleted on destroy.
            retention = k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(when_deleted="Delete",
                                                                                        when_scaled="Retain")
            k8s.core.v1.PersistentVolume(f"{name}-volume", metadata=k8s.meta.v1.ObjectMetaArgs(
                name=pulumi.Output.concat(args.namespace, "-redis-data"), labels=LABELS),
                spec=k8s.core.v1.PersistentVolumeSpecArgs(
                    capacity={"storage": args.storage}, access_modes=["ReadWriteOnce"], storage_class_name="",
                    persistent_volume_reclaim_policy="Retain",
                    host_path=k8s.core.v1.HostPathVolumeSourceArgs(
                        path=pulumi.Output.concat("/var/lib/tonsurance/", args.namespace, "/redis"),
                        type="DirectoryOrCreate"),
                    claim_ref=k8s.core.v1.ObjectReferenceArgs(namespace=args.namespace, name=f"data-{NAME}-0")),
                opts=child)
        probe = k8s.core.v1.ProbeArgs(tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="redis"), period_seconds=10)
        # Its field manager is pinned with every other object's (components/field_manager.py): a run killed while
        # creating it would otherwise conflict on volumeClaimTemplates, an atomic list the server defaults.
        k8s.apps.v1.StatefulSet(f"{name}-statefulset", metadata=meta, spec=k8s.apps.v1.StatefulSetSpecArgs(
            service_name=NAME, replicas=1, persistent_volume_claim_retention_policy=retention, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=LABELS),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=LABELS),
                spec=k8s.core.v1.PodSpecArgs(
                    automount_service_account_token=False,
                    security_context=pod_security(user=999),  # the image's redis user
                    volumes=[tmp_volume()],
                    containers=[k8s.core.v1.ContainerArgs(
                        name=NAME, image=args.image,
                        # $(VAR) is expanded by the kubelet: the password stays in the Secret.
                        args=["--requirepass", f"$({REDIS_PASSWORD.env})", "--appendonly", "yes", "--dir", "/data"],
                        env=[password], ports=[k8s.core.v1.ContainerPortArgs(name="redis", container_port=PORT)],
                        readiness_probe=probe, liveness_probe=probe,
                        resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "100m", "memory": "128Mi"},
                                                                       limits={"cpu": "500m", "memory": "512Mi"}),
                        security_context=container_security(),
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="data", mount_path="/data"),
                                       k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
                    )],
                )),
            volume_claim_templates=[k8s.core.v1.PersistentVolumeClaimArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name="data"),
                spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                    access_modes=["ReadWriteOnce"], storage_class_name=storage_class,
                    resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": args.storage})))],
        ), opts=child)
        k8s.networking.v1.NetworkPolicy(f"{name}-network-policy", metadata=meta, spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=LABELS), policy_types=["Ingress", "Egress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=c))
                       for c in args.clients],
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=PORT, protocol="TCP")])],
            egress=[]), opts=child)  # Redis calls nobody
        self.host = pulumi.Output.concat(NAME, ".", args.namespace, ".svc.cluster.local")
        self.register_outputs({"host": self.host})
