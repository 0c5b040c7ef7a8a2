"""One Server-Side Apply field manager for every Kubernetes object the program owns.

Why: the Kubernetes provider (v4, server-side apply mode) names its field manager at each create,
`pulumi-kubernetes-<random>`, and keeps that name in the resource's state (provider.go, fieldManagerName).
A `pulumi up` killed after the API server accepted an object but before Pulumi wrote its state leaves the
object owned by a manager that nobody remembers. The next run creates the object again under a new random
manager, and the apply conflicts wherever the first manager owns a value the new one sets differently: above
all atomic lists the server completes with defaults (an ExternalSecret's `spec.data`, a StatefulSet's
`volumeClaimTemplates`). The provider reads the manager from the annotation `pulumi.com/patchFieldManager`
before its state, so one fixed name re-applies its own fields cleanly after a kill at any moment.

`pulumi.com/patchForce` goes with it: the program owns what it declares, so its applies take those fields back
from any other manager, as client-side apply did (`kubectl apply --server-side --force-conflicts`). That is
what moves an existing stack onto the pinned name: its objects belong to the random managers of earlier runs,
and the unforced apply of the new name conflicts on the same atomic lists. The first `up` after this change
updates every object's annotations (nothing in a pod template, so nothing rolls) and the provider then drops
the old manager's entries. Fields the program does not set (a controller's, `kubectl scale` where no replica
count is declared) stay with their managers.

`__main__.py` registers `pin_field_manager` as a stack transformation before any resource.
"""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

FIELD_MANAGER = "tonsurance"
ANNOTATION = "pulumi.com/patchFieldManager"
FORCE = "pulumi.com/patchForce"
PINNED = {ANNOTATION: FIELD_MANAGER, FORCE: "true"}


def pin_field_manager(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """A stack transformation: every Kubernetes object gets both annotations (explicit ones are kept)."""
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
    """`metadata` (ObjectMetaArgs, a mapping, an Output or None) with the annotations added, in the same form."""
    if metadata is None:
        return k8s.meta.v1.ObjectMetaArgs(annotations=dict(PINNED))
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
    return {**PINNED, **(annotations or {})}
