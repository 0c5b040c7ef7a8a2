"""PromQL through a real parser (promql-parser, the Rust implementation of Prometheus's grammar)."""

from __future__ import annotations

import json
from datetime import timedelta

import promql_parser


class PromQLError(ValueError):
    pass


def selected_series(expr: str) -> frozenset[str]:
    """The metric names an expression selects; raises PromQLError if it does not parse or selects a series
    by matchers alone (no name), which would hide what it reads."""
    try:
        tree = promql_parser.parse(expr)
    except Exception as err:  # the parser raises a plain exception type with the position in its message
        raise PromQLError(f"{expr!r} is not valid PromQL: {err}") from None
    names: set[str] = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            if not node.name:
                raise PromQLError(f"{expr!r} selects series without a metric name")
            names.add(node.name)
        return True

    promql_parser.walk(tree, visit)
    return frozenset(names)


def _with_namespace(node, namespace: str, source: str):
    """A copy of a selector node that also matches `namespace="<namespace>"`."""
    if node.at is not None or node.offset is not None:
        raise PromQLError(f"{source!r}: scoping a selector with offset or @ is not supported")
    if node.matchers.or_matchers:
        raise PromQLError(f"{source!r}: scoping a selector with 'or' matchers is not supported")
    matchers = [str(m) for m in node.matchers.matchers]
    if any(m.name == "namespace" for m in node.matchers.matchers):
        raise PromQLError(f"{source!r} already selects a namespace")
    return promql_parser.VectorSelector.parse(f'{node.name}{{{",".join([f"namespace={json.dumps(namespace)}", *matchers])}}}')


def scoped(expr: str, namespace: str, unscoped: frozenset[str] = frozenset()) -> str:
    """`expr` with `namespace="<namespace>"` added to every series selector (except metrics in `unscoped`),
    so a stack's alerts and panels read only its own services even in a cluster shared with other stacks."""
    changed = False

    def visit(node):
        nonlocal changed
        if isinstance(node, promql_parser.VectorSelector) and node.name not in unscoped:
            changed = True
            return _with_namespace(node, namespace, expr)
        return None

    result = str(promql_parser.transform(promql_parser.parse(expr), visit))
    return result if changed else expr


def series_in_namespace(selector: str, namespace: str, unscoped: frozenset[str] = frozenset()) -> str:
    """A promtool input series selector in `namespace`, unless it names its own namespace or is unscoped."""
    node = promql_parser.VectorSelector.parse(selector)
    if node.name in unscoped or any(m.name == "namespace" for m in node.matchers.matchers):
        return selector
    return str(_with_namespace(node, namespace, selector))


def scaled_ranges(expr: str, divisor: int) -> str:
    """`expr` with every range window divided by `divisor` (`[5m]` / 5 -> `[1m]`): the same rule on a
    faster clock (the local stack's drills; see monitoring/alerts.RuleTiming)."""
    if divisor == 1:
        return expr

    def visit(node):
        if isinstance(node, promql_parser.MatrixSelector):
            window = promql_parser.display_duration(node.range / divisor)
            return promql_parser.MatrixSelector.parse(f"{node.vector_selector}[{window}]")
        return None

    return str(promql_parser.transform(promql_parser.parse(expr), visit))


def scaled_duration(duration: str, divisor: int) -> str:
    """A Prometheus duration ("15m") divided by `divisor`, in Prometheus's notation ("3m")."""
    if duration.strip("0") in ("s", "m", "h", "d"):  # "0m": at once, on any clock (the parser refuses 0)
        return duration
    seconds = round(promql_parser.parse_duration(duration).total_seconds() / divisor)
    return promql_parser.display_duration(timedelta(seconds=max(1, seconds)))
