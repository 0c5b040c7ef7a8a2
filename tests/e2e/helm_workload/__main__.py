"""One Helm release of tests/e2e/fixtures/probe-chart into the session cluster, with the program's recovery hooks
(components/helm_recovery.py) unless `hooks` is false: for tests/e2e/test_helm_converge.py, run by the CLI so that
a test can SIGKILL it. The chart's pods go to the nodes labelled `tonsurance.io/helm-probe=<pool>`."""
import sys

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
sys.path.insert(0, config.require("projectRoot"))  # the checkout whose components/ this program uses
from components.helm_recovery import release_hooks  # noqa: E402

kubeconfig = config.require("kubeconfig")
provider = k8s.Provider("cluster", kubeconfig=kubeconfig)
k8s.helm.v3.Release(
    "probe",
    k8s.helm.v3.ReleaseArgs(
        name="probe", chart=config.require("chart"), namespace=config.require("namespace"),
        values={"replicas": config.require_int("replicas"),
                "nodeSelector": {"tonsurance.io/helm-probe": config.require("pool")}},
        atomic=True, cleanup_on_fail=True, timeout=900,  # as components/platform_charts.py installs its charts
    ),
    opts=pulumi.ResourceOptions(provider=provider,
                                hooks=release_hooks(kubeconfig) if config.require_bool("hooks") else None),
)
