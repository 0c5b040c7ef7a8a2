"""One stand-in: the local process behind one pod of the five workloads (containers never run on KWOK).

It speaks what the pod's manifest declares: `/health` (the probes' path) and the API on the `http` port,
`/metrics` on the `metrics` port (the Prometheus client library's exposition), both on loopback ports the
controller chose. Its metric names are those of monitoring/metrics.py. What it simulates, per service:

- ocaml-backend, api-v2, websocket-v2: API requests (counted by status, timed in a histogram), served to a
  steady synthetic load the stand-in sends itself (at most MAX_RPS); faults add errors or latency to every
  Nth request. api-v2 answers the guide's premium quote from the oracle's price on chain. ocaml-backend
  reports the vault, the oracle's last update and the policies created, read from localnet getters, and
  simulates hedges, circuit breakers and claims (no market or hedge venue is reachable here).
- pricing-keeper: signs real price updates to the oracle with the keeper's wallet (keepers.py);
- bridge-health-keeper: simulated bridge checks; both keepers report their wallet balance from the chain.
Every stand-in reports its own process's CPU time and memory as the container's.

The controller starts it with one JSON line on stdin (service, pod, ports, behaviour file, chain, the
pod's contract-addresses ConfigMap and, for keepers, the keeper's words, which never appear in argv or logs).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics,
                               start_http_server)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from localcluster.standins.faults import Behaviour
from localcluster.standins.workloads import API_SERVICES, DATABASE_SERVICES, KEEPERS

log = logging.getLogger("standin")
disable_created_metrics()  # no *_created series: only the names of monitoring/metrics.py

MAX_RPS = 10.0  # the synthetic load never exceeds this, whatever the behaviour says
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
POOL_SIZE = 10  # database pool of the services that read DATABASE_URL
POOL_WAIT_SECONDS = 0.5
CHAIN_REFRESH_SECONDS = 20
KEEPER_INTERVAL_SECONDS = 60
BREAKERS = ("polymarket", "binance", "allianz")
SYNTHETIC_PATH = {"ocaml-backend": "/prices", "api-v2": "/v2/status", "websocket-v2": "/ws/status"}


class ProcessCollector:
    """The stand-in's own CPU seconds and resident memory, exported under the container metric names."""

    def collect(self):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = CounterMetricFamily("container_cpu_usage_seconds", "CPU usage")
        cpu.add_metric([], usage.ru_utime + usage.ru_stime)
        yield cpu
        with open("/proc/self/statm") as statm:
            resident_pages = int(statm.read().split()[1])
        memory = GaugeMetricFamily("container_memory_working_set_bytes", "Memory usage")
        memory.add_metric([], resident_pages * os.sysconf("SC_PAGE_SIZE"))
        yield memory


class StandIn:
    def __init__(self, spec: dict):
        self.spec = spec
        self.service = spec["service"]
        self.behaviour_file = Path(spec["behaviour_file"])
        self.behaviour = Behaviour()
        self._behaviour_mtime = 0.0
        self.registry = CollectorRegistry()
        self.registry.register(ProcessCollector())
        self.requests = 0
        self.lock = threading.Lock()
        self.client = None
        if spec.get("localnet"):
            from chain.client import ChainSettings
            from chain.connect import connect
            self.client = connect(ChainSettings("localnet", localnet_path=spec["localnet"]))
        self.addresses: dict[str, str] = spec.get("contract_addresses") or {}
        self.chain_lock = threading.Lock()  # one chain read at a time per process
        self._metrics()

    # ---- metrics ----------------------------------------------------------------------------------------
    def _metrics(self) -> None:
        r = self.registry
        if self.service in API_SERVICES:
            self.http_requests = Counter("http_requests", "API request count", ["method", "path", "status"], registry=r)
            self.http_latency = Histogram("http_request_duration_seconds", "API latency", ["method", "path"],
                                          buckets=LATENCY_BUCKETS, registry=r)
        if self.service in DATABASE_SERVICES:
            self.pool = threading.BoundedSemaphore(POOL_SIZE)
            self.pool_active = Gauge("db_pool_connections_active", "Database pool connections in use", registry=r)
            Gauge("db_pool_connections_max", "Database pool size", registry=r).set(POOL_SIZE)
            self.stalled = 0  # pool slots held by stalled work (the db-pool-exhausted fault)
        if self.service == "ocaml-backend":
            self.breakers = Gauge("circuit_breaker_open", "1 while the breaker is open", ["breaker"], registry=r)
            self.hedges = Histogram("hedge_execution_latency_seconds", "Hedge execution time",
                                    buckets=(1, 5, 10, 30, 60, 120, 300), registry=r)
            self.claims_filed = Counter("claims_filed", "Claims filed", registry=r)
            self.claims_paid = Counter("claims_paid", "Claims paid", registry=r)
            self.chain_figures: dict = {}
            r.register(_ChainCollector(self))
        if self.service in KEEPERS:
            self.updates_ok = Counter("keeper_update_success", "Keeper update count", registry=r)
            self.updates_failed = Counter("keeper_update_failure", "Keeper updates that failed", registry=r)
            self.update_latency = Histogram("keeper_update_latency_seconds", "Keeper latency",
                                            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60), registry=r)
            self.wallet_balance = Gauge("keeper_wallet_balance_ton", "The keeper wallet's balance", registry=r)
        if self.service == "pricing-keeper":
            self.gas = Gauge("avg_gas_cost_ton", "Average gas per keeper transaction", registry=r)
        if self.service == "bridge-health-keeper":
            self.bridges = Gauge("bridge_health_status", "1 healthy, 0 degraded", ["bridge"], registry=r)

    def reload_behaviour(self) -> Behaviour:
        try:
            mtime = self.behaviour_file.stat().st_mtime
            if mtime != self._behaviour_mtime:
                self.behaviour = Behaviour.from_dict(json.loads(self.behaviour_file.read_text()))
                self._behaviour_mtime = mtime
        except (OSError, ValueError) as err:
            log.warning("behaviour file %s unreadable (%s); keeping the current behaviour", self.behaviour_file, err)
        return self.behaviour

    # ---- requests -----------------------------------------------------------------------------------------
    def handle(self, path: str, query: dict) -> tuple[int, dict]:
        """Serve one API request: (status, JSON body). Faults apply by request number."""
        behaviour = self.behaviour
        with self.lock:
            self.requests += 1
            number = self.requests
        time.sleep((5 + number * 37 % 60) / 1000)  # 5-64 ms of simulated work
        if behaviour.slow_every and number % behaviour.slow_every == 0:
            time.sleep(behaviour.slow_ms / 1000)
        if behaviour.error_every and number % behaviour.error_every == 0:
            return 503, {"error": "injected fault (stand-in)"}
        if self.service in DATABASE_SERVICES:
            if not self.pool.acquire(timeout=POOL_WAIT_SECONDS):
                return 503, {"error": "database pool exhausted"}
            self.pool_active.inc()
            try:
                return self.route(path, query)
            finally:
                self.pool_active.dec()
                self.pool.release()
        return self.route(path, query)

    def route(self, path: str, query: dict) -> tuple[int, dict]:
        from localcluster.standins import chainview
        if self.service == "api-v2" and path == "/premium/swing-quote":
            try:
                args = {k: int(query[k][0]) for k in ("coverage_type", "coverage_amount", "duration_days")}
            except (KeyError, ValueError):
                return 400, {"error": "coverage_type, coverage_amount and duration_days are required integers"}
            with self.chain_lock:
                answer = chainview.quote(self.client, self.addresses, args["coverage_type"], args["coverage_amount"],
                                         args["duration_days"])
            return (200, answer) if answer else (503, {"error": "the oracle's price is stale"})
        if self.service == "api-v2" and path == "/oracle/last-update":
            with self.chain_lock:
                return 200, {"timestamp": chainview.oracle_last_update(self.client, self.addresses)}
        if path == SYNTHETIC_PATH[self.service]:
            return 200, {"service": self.service, "pod": self.spec["pod"]}
        return 404, {"error": f"no route {path}"}

    def observe(self, path: str, status: int, seconds: float) -> None:
        known = path in (SYNTHETIC_PATH[self.service], "/premium/swing-quote", "/oracle/last-update")
        label = path if known else "other"  # bounded label values
        self.http_requests.labels("GET", label, str(status)).inc()
        self.http_latency.labels("GET", label).observe(seconds)

    # ---- background work ------------------------------------------------------------------------------------
    def synthetic_load(self) -> None:
        """Bounded traffic to its own port: at most MAX_RPS, one request at a time, for the process's life."""
        connection = None
        path = SYNTHETIC_PATH[self.service]
        while True:
            behaviour = self.reload_behaviour()
            if self.service in DATABASE_SERVICES:
                self._hold_pool(behaviour.db_pool_exhausted)
            time.sleep(1 / min(MAX_RPS, max(behaviour.requests_per_second, 1 / 600)))
            try:
                connection = connection or http.client.HTTPConnection("127.0.0.1", self.spec["http_port"], timeout=10)
                connection.request("GET", path)
                connection.getresponse().read()
            except OSError:
                connection = None

    def backend_loop(self) -> None:
        from localcluster.standins import chainview
        last_claims = time.monotonic()
        hedge = 0
        while True:
            behaviour = self.reload_behaviour()
            for breaker in BREAKERS:
                self.breakers.labels(breaker).set(1 if behaviour.breaker_open == breaker else 0)
            hedge += 1
            self.hedges.observe(behaviour.hedge_seconds or 2 + hedge * 7 % 18)
            now = time.monotonic()
            self.claims_filed.inc(behaviour.claims_per_minute * (now - last_claims) / 60)
            last_claims = now
            try:
                with self.chain_lock:
                    self.chain_figures = {"vault": chainview.vault_figures(self.client, self.addresses),
                                          "oracle": chainview.oracle_last_update(self.client, self.addresses)}
            except Exception as err:  # noqa: BLE001 - a chain read that fails leaves the series absent
                log.warning("chain read failed: %s", err)
                self.chain_figures = {}
            time.sleep(CHAIN_REFRESH_SECONDS)

    def _hold_pool(self, exhausted: bool) -> None:
        """The db-pool-exhausted fault: stalled work takes every free slot until the fault ends."""
        while exhausted and self.stalled < POOL_SIZE and self.pool.acquire(timeout=POOL_WAIT_SECONDS):
            self.stalled += 1
            self.pool_active.inc()
        while not exhausted and self.stalled:
            self.stalled -= 1
            self.pool_active.dec()
            self.pool.release()

    def pricing_keeper_loop(self, keeper) -> None:
        while True:
            behaviour = self.reload_behaviour()
            try:
                if behaviour.keeper_updates:
                    outcome = keeper.update(stale_sequence=behaviour.keeper_stale_sequence)
                    (self.updates_ok if outcome.ok else self.updates_failed).inc()
                    self.update_latency.observe(outcome.seconds)
                    log.info("price update %s in %.2fs (fees %.6f TON)", outcome.detail, outcome.seconds,
                             outcome.fees_ton)
                    average = keeper.average_gas_ton()
                    if average is not None:
                        self.gas.set(average)
                self.wallet_balance.set(keeper.balance_ton())
            except Exception as err:  # noqa: BLE001 - a failed round is counted and retried, as a keeper does
                self.updates_failed.inc()
                log.warning("price update failed: %s: %s", type(err).__name__, err)
            time.sleep(self.spec.get("keeper_interval", KEEPER_INTERVAL_SECONDS))

    def bridge_keeper_loop(self, wallet_address) -> None:
        from localcluster.standins import chainview, keepers
        while True:
            behaviour = self.reload_behaviour()
            started = time.monotonic()
            for bridge, healthy in keepers.bridge_health(behaviour.bridge_degraded).items():
                self.bridges.labels(bridge).set(healthy)
            if behaviour.keeper_updates:
                self.updates_ok.inc()
                self.update_latency.observe(time.monotonic() - started)
            try:
                with self.chain_lock:
                    self.wallet_balance.set(chainview.balance_ton(self.client, wallet_address))
            except Exception as err:  # noqa: BLE001 - the balance series keeps its last value
                log.warning("wallet balance unreadable: %s", err)
            time.sleep(self.spec.get("keeper_interval", KEEPER_INTERVAL_SECONDS))


class _ChainCollector:
    """ocaml-backend's chain figures as gauges and a counter, from the last refresh (absent until the first)."""

    def __init__(self, standin: StandIn):
        self.standin = standin

    def collect(self):
        figures = self.standin.chain_figures
        if not figures:
            return
        vault = figures["vault"]
        for name, value, help_text in (("vault_total_capital", vault.capital_ton, "Total capital in vault"),
                                       ("vault_total_coverage_sold", vault.coverage_sold_ton, "Total coverage sold"),
                                       ("vault_utilization_ratio", vault.utilization_ratio, "Coverage / Capital"),
                                       ("pricing_oracle_last_update_timestamp", figures["oracle"], "Oracle freshness")):
            family = GaugeMetricFamily(name, help_text)
            family.add_metric([], value)
            yield family
        created = CounterMetricFamily("policy_creation", "Total policies created")
        created.add_metric([], vault.policies_created)
        yield created
        capital = GaugeMetricFamily("vault_tranche_capital", "Capital of one tranche", labels=["tranche"])
        apy = GaugeMetricFamily("vault_tranche_apy_ratio", "Current APY of one tranche", labels=["tranche"])
        for tranche in vault.tranches:
            capital.add_metric([tranche.name], tranche.capital_ton)
            apy.add_metric([tranche.name], tranche.apy_ratio)
        yield capital
        yield apy


def _handler(standin: StandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive for the synthetic load

        def do_GET(self):  # noqa: N802 - the http.server API
            url = urlparse(self.path)
            if url.path == "/health":
                self._answer(200, {"status": "ok", "service": standin.service, "pod": standin.spec["pod"]})
                return
            if standin.service not in API_SERVICES:
                self._answer(404, {"error": "a keeper serves /health only"})
                return
            started = time.monotonic()
            try:
                status, body = standin.handle(url.path, parse_qs(url.query))
            except Exception as err:  # noqa: BLE001 - an unexpected failure is a 500, as a service answers
                log.exception("request %s failed", url.path)
                status, body = 500, {"error": type(err).__name__}
            standin.observe(url.path, status, time.monotonic() - started)
            self._answer(status, body)

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args):  # the synthetic load would flood the log
            pass

    return Handler


def _thread(target, *args) -> None:
    threading.Thread(target=target, args=args, daemon=True).start()


def run(spec: dict) -> None:
    standin = StandIn(spec)
    standin.reload_behaviour()
    start_http_server(spec["metrics_port"], addr="127.0.0.1", registry=standin.registry)
    server = ThreadingHTTPServer(("127.0.0.1", spec["http_port"]), _handler(standin))
    server.daemon_threads = True
    service = standin.service
    if service in API_SERVICES:
        _thread(standin.synthetic_load)
    if service == "ocaml-backend":
        _thread(standin.backend_loop)
    if service == "pricing-keeper":
        from chain.wallets import WalletKey
        from localcluster.standins.keepers import PricingKeeper
        keeper = PricingKeeper(standin.client, WalletKey.from_mnemonic(spec.pop("keeper_mnemonic")),
                               Path(spec["journal"]), standin.addresses)
        _thread(standin.pricing_keeper_loop, keeper)
    if service == "bridge-health-keeper":
        from chain.wallets import WalletKey, WalletV4R2
        key = WalletKey.from_mnemonic(spec.pop("keeper_mnemonic"))
        address = WalletV4R2(None, key, os.devnull).address  # type: ignore[arg-type]  # address only
        _thread(standin.bridge_keeper_loop, address)
    log.info("%s stand-in for pod %s: http 127.0.0.1:%d, metrics 127.0.0.1:%d", service, spec["pod"],
             spec["http_port"], spec["metrics_port"])
    server.serve_forever()


def launch(spec: dict, stdout=subprocess.DEVNULL, **popen) -> subprocess.Popen:
    """Start the stand-in of `spec` as its own process. The spec goes over its stdin, the one way a keeper's
    words reach it (never argv or the environment); its output and errors go to `stdout`."""
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-m", "localcluster.standins.standin", "--pod", spec["pod"]],
                               cwd=root, stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONPATH": str(root)}, **popen)
    process.stdin.write((json.dumps(spec) + "\n").encode())
    process.stdin.close()
    return process


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    spec = json.loads(sys.stdin.readline())
    sys.stdin.close()
    run(spec)


if __name__ == "__main__":
    main()
