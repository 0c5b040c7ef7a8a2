"""One Server-Side Apply field manager for every Kubernetes object the program owns.

Why: the Kubernetes provider (v4, server-side apply mode) names its field manager at each create,
`pulumi-kubernetes-<random>`, and keeps that name in the resource's state (provider.go, fieldManagerName).
A `pulumi up` killed after the API server accepted an object but before Pulumi wrote its state leaves the
object owned by a manager that nobody remembers. The next run creates the object again under a new random
manager, and the apply conflicts wherever the first manager owns a value the new one sets differently: above
all atomic lists the server completes with defaults (an ExternalSecret's `spec.data`, a StatefulSet's
`volumeClaimTemplates`). The provider reads the manager from the annotation `pulumi.com/patchFieldManager`
before its state, so one fixed name re-applies its own fields cleanly after a kill at any moment, and no
apply is ever forced over another manager's fields.

`__main__.py` registers `pin_field_manager` as a stack transformation before any resource. An existing stack
takes the pinned name on its next `up` (an annotation-only update of every object; the provider then drops the
old random manager's entries).
"""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

FIELD_MANAGER = "tonsurance"
ANNOTATION = "pulumi.com/patchFieldManager"


def pin_field_manager(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """A stack transformation: every Kubernetes object gets the annotation (an explicit one is kept)."""
    if not applies_to(args.type_, args.props):
        return None
    props = dict(args.props)
    props["metadata"] = with_field_manager(props.get("metadata"))
    return pulumi.ResourceTransformationResult(props, args.opts)


def applies_to(type_: str, props: Any) -> bool:
    """Kubernetes objects (built-in kinds and custom resources). Not Helm releases, charts or YAML groups (they
    have no object metadata of their own), and not the provider's *Patch kinds (each patch needs a manager
    of its own)."""
    return type_.startswith("kubernetes:") and not type_.endswith("Patch") and "metadata" in props


def with_field_manager(metadata: Any) -> Any:
    """`metadata` (ObjectMetaArgs, a mapping, an Output or None) with the annotation added, in the same form."""
    if metadata is None:
        return k8s.meta.v1.ObjectMetaArgs(annotations={ANNOTATION: FIELD_MANAGER})
    if isinstance(metadata, pulumi.Output):
        return metadata.apply(with_field_manager)
    if isinstance(metadata, dict):
        return {**metadata, "annotations": _annotations(metadata.get("annotations"))}
    pinned = copy.copy(metadata)  # an input type: objects may share one metadata value, so never mutate it
    pulumi.set(pinned, "annotations", _annotations(pulumi.get(metadata, "annotations")))
    return pinned


def _annotations(annotations: Any) -> Any:
    if isinstance(annotations, pulumi.Output):
        return annotations.apply(_annotations)
    return {ANNOTATION: FIELD_MANAGER, **(annotations or {})}
