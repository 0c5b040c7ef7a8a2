"""PromQL through a real parser (promql-parser, the Rust implementation of Prometheus's grammar)."""

from __future__ import annotations

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
