"""A Helm release converges after a `pulumi up` killed while Helm installs or upgrades it (the provider's
Release, the program's recovery hooks, the session cluster; the chart from tests/e2e/fixtures).

The release's pods wait for nodes labelled with a pool nobody has yet, so Helm waits and the kill lands in
the middle of the install (release record `pending-install`) and of the upgrade (`pending-upgrade`). Without
the hooks the next run fails with Helm's "cannot re-use a name that is still in use"; with them the next
plain `pulumi up` (once the nodes exist) installs over the interrupted one, adopting its objects, and upgrades
past the interrupted upgrade; the run after has nothing to do.
"""
from __future__ import annotations

import json
import uuid

import pytest
from pulumi import automation as auto

from tests.e2e.convergence import kill_up_when
from tests.e2e.harness import ROOT, TOOLS, StackCopy, engine_env
from tests.kube import get_object

pytestmark = pytest.mark.e2e

LABEL = "tonsurance.io/helm-probe"


def quiet(_line: str) -> None:
    pass


@pytest.fixture
def helm_stack(project_dir, kube_cluster, kube_namespace):
    project_dir.mkdir(parents=True)
    (project_dir / "__main__.py").write_text((ROOT / "tests" / "e2e" / "helm_workload" / "__main__.py").read_text())
    (project_dir / "Pulumi.yaml").write_text(
        f"name: helm-probe\nruntime:\n  name: python\n  options:\n    virtualenv: {ROOT / '.venv'}\n")
    (project_dir / ".state" / "pulumi").mkdir(parents=True)
    workspace = auto.LocalWorkspace(work_dir=str(project_dir), pulumi_command=auto.PulumiCommand(root=str(TOOLS)),
                                    env_vars=engine_env(project_dir))
    stack = auto.Stack.create("test", workspace)
    for key, value in {"kubeconfig": str(kube_cluster.kubeconfig), "namespace": kube_namespace, "replicas": "1",
                       "chart": str(ROOT / "tests" / "e2e" / "fixtures" / "probe-chart"), "hooks": "true",
                       "projectRoot": str(ROOT)}.items():
        stack.set_config(key, auto.ConfigValue(value))
    copy = StackCopy(work_dir=project_dir, stack=stack, cluster=kube_cluster)
    yield copy
    stack.destroy(on_output=quiet)
    for node in kube_cluster.kubectl("get", "nodes", "-o", "name").stdout.split():
        kube_cluster.kubectl("label", node, f"{LABEL}-", check=False)


def revisions(cluster, namespace: str) -> list[tuple[int, str]]:
    """(version, status) of every stored revision of the release, oldest first."""
    listing = json.loads(cluster.kubectl("get", "secrets", "-n", namespace, "-l", "owner=helm,name=probe",
                                         "-o", "json").stdout)
    return sorted((int(s["metadata"]["labels"]["version"]), s["metadata"]["labels"]["status"])
                  for s in listing["items"])


def test_a_release_killed_mid_install_and_mid_upgrade_converges(helm_stack, tmp_path):
    copy, cluster = helm_stack, helm_stack.cluster
    namespace = copy.stack.get_config("namespace").value
    nodes = cluster.kubectl("get", "nodes", "-o", "name").stdout.split()
    first_pool, second_pool = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]

    copy.stack.set_config("pool", auto.ConfigValue(first_pool))
    kill_up_when(copy, tmp_path / "install.log", lambda: (1, "pending-install") in revisions(cluster, namespace),
                 "Helm install in progress")
    assert get_object(cluster, "deployment", "probe", "-n", namespace) is not None  # created, not ready

    copy.stack.set_config("hooks", auto.ConfigValue("false"))  # what the provider alone does
    with pytest.raises(auto.CommandError, match="cannot re-use a name that is still in use"):
        copy.stack.up(on_output=quiet)
    copy.stack.set_config("hooks", auto.ConfigValue("true"))
    cluster.kubectl("label", nodes[0], f"{LABEL}={first_pool}", "--overwrite")
    lines: list[str] = []
    assert copy.stack.up(on_output=lines.append).summary.result == "succeeded"
    assert "removed the record(s) a killed install left: v1 pending-install" in "\n".join(lines)
    assert revisions(cluster, namespace) == [(1, "deployed")]
    copy.stack.up(expect_no_changes=True, on_output=quiet)

    copy.stack.set_config("pool", auto.ConfigValue(second_pool))
    copy.stack.set_config("replicas", auto.ConfigValue("2"))
    kill_up_when(copy, tmp_path / "upgrade.log", lambda: (2, "pending-upgrade") in revisions(cluster, namespace),
                 "Helm upgrade in progress")
    cluster.kubectl("label", nodes[1], f"{LABEL}={second_pool}", "--overwrite")
    lines.clear()
    assert copy.stack.up(on_output=lines.append).summary.result == "succeeded"
    assert "removed the record(s) a killed upgrade left: v2 pending-upgrade" in "\n".join(lines)
    assert revisions(cluster, namespace)[-1][1] == "deployed"
    assert not [status for _, status in revisions(cluster, namespace) if status.startswith("pending")]
    deployment = get_object(cluster, "deployment", "probe", "-n", namespace)
    assert deployment["status"]["readyReplicas"] == 2
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {LABEL: second_pool}
    copy.stack.up(expect_no_changes=True, on_output=quiet)
