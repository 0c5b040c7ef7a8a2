"""A one-workload program for the policy pack's Kubernetes rules through the real engine (test_policy_pack.py):
a Deployment rendered to a folder by the real Kubernetes provider, shaped by the stack config."""
import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
provider = k8s.Provider("render", render_yaml_to_directory=config.require("renderTo"))
probe = k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/health", port=8080))
k8s.apps.v1.Deployment(
    "backend",
    spec=k8s.apps.v1.DeploymentSpecArgs(
        replicas=1,
        selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": "backend"}),
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels={"app": "backend"}),
            spec=k8s.core.v1.PodSpecArgs(
                security_context=k8s.core.v1.PodSecurityContextArgs(run_as_non_root=True),
                containers=[k8s.core.v1.ContainerArgs(
                    name="backend",
                    image=config.require("image"),
                    liveness_probe=probe if config.require_bool("probes") else None,
                    readiness_probe=probe if config.require_bool("probes") else None,
                    resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "100m", "memory": "128Mi"},
                                                                   limits={"cpu": "1", "memory": "512Mi"}),
                )],
            ),
        ),
    ),
    opts=pulumi.ResourceOptions(provider=provider),
)
