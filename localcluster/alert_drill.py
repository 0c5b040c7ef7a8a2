"""How the alert drill induces each alert of monitoring/alerts.py on the local stack, and which it cannot.

Every alert is either induced (a stand-in fault, a change on localnet, load on the local Redis or PostgreSQL)
or listed in NOT_INDUCIBLE with the reason; tests/e2e/test_drills.py checks that the two cover the table
exactly, induces each, waits for it on the real Prometheus and in the alert sink, ends the condition and
waits for the resolution.

The faults in `BEFORE_DEPLOY` are set before the stack's pods start: a keeper that has never succeeded makes
"no success in 15 minutes" hold from its first scrape instead of after 15 minutes, and the backend's faults
(which touch no request, chain or release) let the alerts with the longest `for` (10 and 15 min) count down
while the other tests run.
"""

from __future__ import annotations

from dataclasses import dataclass

from localcluster.standins.workloads import SERVICES
from monitoring.alerts import down_alert_name

# The canary drill (tests/e2e/test_drills.py) releases this service while the alert drill runs: its down alert is
# induced in phase 3, once the canary drill has ended.
CANARY_SERVICE = "websocket-v2"


@dataclass(frozen=True)
class Induction:
    how: str  # what the drill does, for the docs and the report
    faults: tuple[tuple[str, str], ...] = ()  # (service, fault) set through the stand-ins
    action: str = ""  # a named action of the drill on localnet, Redis or PostgreSQL
    phase: int = 1  # inductions of phase 1 run together; phase 2 after they resolve (a stopped backend or keeper
    # would hide the chain figures other alerts of phase 1 read); phase 3 once the canary drill has ended
    resolves: bool = True  # False: the condition's window outlasts a drill; the firing is checked only
    labels: tuple[tuple[str, str], ...] = ()  # labels the firing alert must carry


INDUCTIONS: dict[str, Induction] = {
    "OracleUpdateStale": Induction("the pricing keeper stops publishing prices", (("pricing-keeper", "keeper-paused"),)),
    "VaultInsolvencyRisk": Induction("the admin raises the vault's cap to 95% and policies are sold to 85% of capital; "
                                     "ended by an LP deposit", action="vault-over-cap"),
    "DatabaseConnectionPoolExhausted": Induction("stalled work holds api-v2's whole pool",
                                                 (("api-v2", "db-pool-exhausted"),), labels=(("job", "api-v2"),)),
    "CircuitBreakerTriggered": Induction("ocaml-backend opens its polymarket breaker", (("ocaml-backend", "breaker-open"),),
                                         labels=(("job", "ocaml-backend"), ("breaker", "polymarket"))),
    "BridgeHealthDegraded": Induction("the bridge-health keeper reports ethereum degraded",
                                      (("bridge-health-keeper", "bridge-degraded"),), labels=(("bridge", "ethereum"),)),
    "HedgeExecutionDelays": Induction("ocaml-backend's hedges take 90 s", (("ocaml-backend", "hedge-slow"),)),
    "AbnormalClaimRate": Induction("ocaml-backend files 20 claims a minute", (("ocaml-backend", "claims-surge"),),
                                   resolves=False),
    "KeeperUpdateFailures": Induction("the bridge-health keeper never succeeds (set before its pod starts)",
                                      (("bridge-health-keeper", "keeper-paused"),),
                                      labels=(("job", "bridge-health-keeper"),)),
    "ApiErrorRateHigh": Induction("api-v2 fails one request in 20", (("api-v2", "bad-errors"),),
                                  labels=(("job", "api-v2"),)),
    "ApiLatencyP99High": Induction("api-v2 delays one request in 20 by 600 ms", (("api-v2", "slow"),),
                                   labels=(("job", "api-v2"),)),
    "RedisMemoryHigh": Induction("the local Redis is filled to 95% of its maxmemory; ended by FLUSHALL",
                                 action="redis-fill"),
    "PostgresConnectionsHigh": Induction("90% of PostgreSQL's max_connections are held open", action="postgres-connections"),
}

# A down alert per workload: every stand-in of the workload is stopped (its pods stay, nothing answers a scrape).
INDUCTIONS.update({
    down_alert_name(service): Induction(f"every {service} stand-in is stopped", ((service, "stopped"),),
                                        phase=3 if service == CANARY_SERVICE else 2)
    for service in SERVICES
})

_NO_BACKUP_JOBS = ("the local stack has no backup CronJob (the program schedules backups on public stacks only, "
                   "into their S3 bucket; locally `pulumi up` backs up to .state/backups before migrating) and its "
                   "control plane runs no kube-state-metrics (KWOK simulates pods, it runs none), so no "
                   "kube_cronjob_* or kube_job_* series exist; the rule is covered by its promtool cases")

NOT_INDUCIBLE: dict[str, str] = {
    "BackupOverdue": _NO_BACKUP_JOBS,
    "BackupJobFailed": _NO_BACKUP_JOBS,
    "HighGasCosts": "gas is priced by the chain's configuration (localnet runs mainnet's, chain/data): a keeper "
                    "update costs about 0.003 TON there, and nothing a drill can do makes it cost 0.5 TON",
}

BEFORE_DEPLOY = (("bridge-health-keeper", "keeper-paused"), ("bridge-health-keeper", "bridge-degraded"),
                 ("ocaml-backend", "claims-surge"), ("ocaml-backend", "hedge-slow"), ("ocaml-backend", "breaker-open"))
