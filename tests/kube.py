"""The test session's Kubernetes cluster: one real control plane (etcd, kube-apiserver, controller-manager,
scheduler, KWOK) per pytest run, shared by every test that asks for it, with a namespace per test.

Use the fixtures from tests/conftest.py: `kube_cluster` (the session's `Cluster`; `kube_cluster.kubectl(...)`
runs the built kubectl against it, `kube_cluster.kubeconfig` is its kubeconfig path) and `kube_namespace`
(a fresh namespace, deleted after the test). Clusters live in /tmp/tonsurance-cluster-<pid>-*: a pytest run
that was killed before its teardown leaves one behind, and the next run deletes it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from localcluster.cluster import Cluster

_PREFIX = "tonsurance-cluster-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def delete_orphaned_clusters() -> None:
    """Delete the clusters of earlier pytest runs that died before their teardown."""
    for state in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        try:
            owner = int(state.name[len(_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if not _pid_alive(owner):
            Cluster("pytest", state).delete()
            shutil.rmtree(state, ignore_errors=True)


def session_cluster() -> Cluster:
    """A new cluster for this pytest process (started; the caller deletes it)."""
    delete_orphaned_clusters()
    state = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
    cluster = Cluster("pytest", state)
    try:
        cluster.start()
    except BaseException:
        cluster.delete()
        raise
    return cluster


def new_namespace(cluster: Cluster, prefix: str = "t") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    return name


def get_object(cluster: Cluster, *args: str) -> dict | None:
    """`kubectl get ARGS -o json` parsed, or None when the object does not exist."""
    result = cluster.kubectl("get", *args, "-o", "json", check=False)
    if result.returncode != 0:
        if "NotFound" in result.stderr or "not found" in result.stderr:
            return None
        raise AssertionError(f"kubectl get {' '.join(args)}: {result.stderr}")
    return json.loads(result.stdout)


def namespace_objects(cluster: Cluster, namespace: str) -> list[dict]:
    """Every object of every listable namespaced kind in `namespace` (events aside), as the API server holds it."""
    kinds = cluster.kubectl("api-resources", "--namespaced=true", "--verbs=list", "-o", "name").stdout.split()
    kinds = [k for k in kinds if k.split(".")[0] != "events"]
    return json.loads(cluster.kubectl("get", ",".join(kinds), "-n", namespace, "-o", "json").stdout)["items"]
