"""The restrictive security context every pod of the stack runs with (Kubernetes "restricted" profile):
non-root, read-only root filesystem with a writable /tmp, no privilege escalation, no capabilities,
RuntimeDefault seccomp."""

from __future__ import annotations

import pulumi_kubernetes as k8s

APP_USER = 10001  # the services' images run as this uid
# Pod Security Admission: the API server refuses any pod of the namespace that breaks the "restricted" profile.
RESTRICTED_NAMESPACE_LABELS = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}


def pod_security(user: int = APP_USER) -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True, run_as_user=user, run_as_group=user, fs_group=user,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"))


def container_security() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True, allow_privilege_escalation=False, read_only_root_filesystem=True, privileged=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"))


def tmp_volume() -> k8s.core.v1.VolumeArgs:
    """A small scratch /tmp, since the root filesystem is read-only."""
    return k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi"))
