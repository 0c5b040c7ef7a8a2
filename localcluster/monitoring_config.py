"""Configuration files of the local Prometheus and Alertmanager.

- `prometheus_config`: scrape only loopback targets: the stand-ins' file_sd files (`.state/standins/*.json`,
  written by the stand-in controller; format in docs/monitoring-local.md) and the local exporters; evaluate the
  rule files the monitoring sync writes from the cluster's PrometheusRules; send alerts to the local Alertmanager.
- `alertmanager_config`: the AlertmanagerConfig objects of a namespace translated to alertmanager.yml the way
  prometheus-operator does it (one child route per object, matching its namespace and continuing; receiver
  names `<namespace>/<object>/<receiver>`; camelCase fields to snake_case; Secret references resolved). On the
  local stack `local_webhook` replaces every Slack and PagerDuty integration by a webhook to the local sink,
  keeping the routes (matchers, severity routing, grouping, repeat) as the program made them.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Mapping

# The local stack's scrape and evaluation cadence: short, so drills see changes within seconds.
SCRAPE_INTERVAL = "5s"
SCRAPE_TIMEOUT = "4s"
EVALUATION_INTERVAL = "5s"
NULL_RECEIVER = "null"  # the root route's receiver: alerts no AlertmanagerConfig matches go nowhere

# AlertmanagerConfig (monitoring.coreos.com/v1alpha1) receiver fields that name a Secret key, and the
# alertmanager.yml field their value goes to.
_SECRET_FIELDS = {"apiURL": "api_url", "routingKey": "routing_key",  # pragma: allowlist secret (field names)
                  "serviceKey": "service_key", "urlSecret": "url"}  # pragma: allowlist secret (field names)
_RENAMED = {"sendResolved": "send_resolved"}
_ROUTE_FIELDS = {"groupBy": "group_by", "groupWait": "group_wait", "groupInterval": "group_interval",
                 "repeatInterval": "repeat_interval", "continue": "continue",
                 "muteTimeIntervals": "mute_time_intervals", "activeTimeIntervals": "active_time_intervals"}
# Integrations that leave the machine; replaced by the local webhook on the local stack.
_EXTERNAL = ("slackConfigs", "pagerdutyConfigs", "opsgenieConfigs", "emailConfigs", "webhookConfigs",
             "victoropsConfigs", "pushoverConfigs", "telegramConfigs", "snsConfigs", "wechatConfigs",
             "discordConfigs", "webexConfigs", "msteamsConfigs", "msteamsv2Configs")

SecretValue = Callable[[str, str, str], str]  # (namespace, secret name, key) -> value


class AlertmanagerConfigError(ValueError):
    """An AlertmanagerConfig that cannot be translated; the message names the object and the field."""


def prometheus_config(*, alertmanager: str, rule_files: str, standin_files: str,
                      static_targets: Iterable[tuple[str, Mapping[str, str]]] = ()) -> dict:
    """prometheus.yml: `alertmanager` is host:port, `rule_files` and `standin_files` are globs, and each
    static target is (host:port, labels)."""
    scrape_configs: list[dict] = [{
        # One target group per pod of the stand-ins; the files' labels (job, namespace, service, pod, ...)
        # override the job name, and `__metrics_path__` / `__scrape_interval__` there are honoured.
        "job_name": "standins",
        "file_sd_configs": [{"files": [standin_files], "refresh_interval": SCRAPE_INTERVAL}],
    }]
    targets = list(static_targets)
    if targets:
        scrape_configs.append({"job_name": "local-exporters",
                               "static_configs": [{"targets": [address], "labels": dict(labels)}
                                                  for address, labels in targets]})
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_TIMEOUT,
                   "evaluation_interval": EVALUATION_INTERVAL},
        "alerting": {"alertmanagers": [{"api_version": "v2", "static_configs": [{"targets": [alertmanager]}]}]},
        "rule_files": [rule_files],
        "scrape_configs": scrape_configs,
    }


def _snake(name: str) -> str:
    return _RENAMED.get(name) or re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _matcher(matcher: Mapping, where: str) -> str:
    match_type = matcher.get("matchType") or ("=~" if matcher.get("regex") else "=")
    if match_type not in ("=", "!=", "=~", "!~"):
        raise AlertmanagerConfigError(f"{where}: matchType {match_type!r} is not one of =, !=, =~, !~")
    value = matcher.get("value", "").replace("\\", "\\\\").replace('"', '\\"')
    return f'{matcher["name"]}{match_type}"{value}"'


def _route(route: Mapping, prefix: str, where: str) -> dict:
    out: dict = {}
    if route.get("receiver"):
        out["receiver"] = prefix + route["receiver"]
    for field, value in route.items():
        if field in _ROUTE_FIELDS:
            out[_ROUTE_FIELDS[field]] = value
        elif field not in ("receiver", "matchers", "routes"):
            raise AlertmanagerConfigError(f"{where}: route field {field!r} is not supported here")
    if route.get("matchers"):
        out["matchers"] = [_matcher(m, where) for m in route["matchers"]]
    if route.get("routes"):
        out["routes"] = [_route(r, prefix, f"{where}.routes[{i}]") for i, r in enumerate(route["routes"])]
    return out


def _integration(config: Mapping, namespace: str, secret_value: SecretValue, where: str) -> dict:
    out = {}
    for field, value in config.items():
        if field in _SECRET_FIELDS:
            out[_SECRET_FIELDS[field]] = secret_value(namespace, value["name"], value["key"])
        elif isinstance(value, (str, int, float, bool)):
            out[_snake(field)] = value
        else:
            raise AlertmanagerConfigError(f"{where}: field {field!r} is not supported here")
    return out


def _no_secrets(namespace: str, name: str, key: str) -> str:
    raise AlertmanagerConfigError(f"Secret {namespace}/{name} (key {key}) is needed but no secrets are available")


def alertmanager_config(objects: Iterable[Mapping], *, secret_value: SecretValue = _no_secrets,
                        local_webhook: str | None = None) -> dict:
    """alertmanager.yml for the AlertmanagerConfig `objects` (as read from the API server). With
    `local_webhook`, every external integration becomes `webhook_configs: [{url: local_webhook}]` (keeping
    its send_resolved); otherwise Secret references are resolved with `secret_value`."""
    routes, receivers = [], [{"name": NULL_RECEIVER}]
    for obj in sorted(objects, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"])):
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        prefix, spec = f"{namespace}/{name}/", obj.get("spec", {})
        where = f"AlertmanagerConfig {namespace}/{name}"
        if not spec.get("route"):
            continue
        route = _route(spec["route"], prefix, f"{where}: spec.route")
        # prometheus-operator scopes each object to the alerts of its namespace and lets others see them too.
        route["matchers"] = [*route.get("matchers", []), f'namespace="{namespace}"']
        route["continue"] = True
        routes.append(route)
        for receiver in spec.get("receivers", []):
            out: dict = {"name": prefix + receiver["name"]}
            for kind, configs in receiver.items():
                if kind == "name":
                    continue
                if kind not in _EXTERNAL:
                    raise AlertmanagerConfigError(f"{where}: receiver {receiver['name']}: {kind} is not supported here")
                for i, config in enumerate(configs):
                    if local_webhook:
                        out.setdefault("webhook_configs", []).append(
                            {"url": local_webhook, "send_resolved": config.get("sendResolved", True)})
                    else:
                        out.setdefault(_snake(kind), []).append(_integration(
                            config, namespace, secret_value, f"{where}: receiver {receiver['name']}.{kind}[{i}]"))
            receivers.append(out)
    return {"route": {"receiver": NULL_RECEIVER, "routes": routes}, "receivers": receivers}
