"""Scoping queries to a stack's namespace through the PromQL parser."""

import promql_parser
import pytest

from monitoring.promql import PromQLError, scoped, series_in_namespace


def test_every_selector_gets_the_namespace_and_keeps_its_matchers():
    out = scoped('sum(rate(a_total{status=~"5.."}[5m])) / sum(rate(a_total[5m])) + on() group_left b', "ns")
    assert out == ('sum(rate(a_total{namespace="ns",status=~"5.."}[5m])) / sum(rate(a_total{namespace="ns"}[5m]))'
                   ' + on () group_left () b{namespace="ns"}')
    promql_parser.parse(out)


def test_unscoped_metrics_and_expressions_without_per_stack_metrics_stay_as_written():
    assert scoped("pg_x / pg_y > 0.8", "ns", frozenset({"pg_x", "pg_y"})) == "pg_x / pg_y > 0.8"
    assert scoped("a + pg_x", "ns", frozenset({"pg_x"})) == 'a{namespace="ns"} + pg_x{}'


def test_a_query_that_picks_its_own_namespace_is_refused():
    with pytest.raises(PromQLError, match="already selects a namespace"):
        scoped('a{namespace="other"}', "ns")


def test_offsets_are_refused_rather_than_dropped():
    with pytest.raises(PromQLError, match="offset"):
        scoped("a offset 1h", "ns")


def test_promtool_series_move_into_the_namespace_unless_they_name_one():
    assert series_in_namespace('a{job="x"}', "ns") == 'a{namespace="ns",job="x"}'
    assert series_in_namespace('a{namespace="other"}', "ns") == 'a{namespace="other"}'
    assert series_in_namespace("pg_x", "ns", frozenset({"pg_x"})) == "pg_x"
