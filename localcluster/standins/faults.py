"""What a stand-in does, keyed by its pod's image tag: the fault table.

A release is an image tag in `tonsurance:images`; a tag ending in `-<fault>` (for example `1.0.1-bad-errors`)
makes every pod of that release behave as the row `<fault>` says, so "a bad release" is the same Pulumi change
a user makes. Any other tag (`1.0.1`, `1.0.1-rc1`) is healthy. The drills also set a fault on a running
service without a release (`python -m localcluster.standins induce`): an error spike, a stopped keeper.

Faults are deterministic (every Nth request, not a probability), so a drill's outcome does not depend on luck.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Behaviour:
    """A stand-in's behaviour; the defaults are a healthy service."""

    requests_per_second: float = 2.0  # synthetic traffic the API stand-ins serve themselves (bounded)
    error_every: int = 0  # every Nth request answers 503 (20: 5%); 0: none
    slow_every: int = 0  # every Nth request takes `slow_ms` longer
    slow_ms: int = 0
    serving: bool = True  # False: the process is stopped (the pod stays, nothing answers)
    keeper_updates: bool = True  # keepers: publish updates at all
    keeper_stale_sequence: bool = False  # pricing keeper: sends a sequence the oracle refuses (418), so it fails
    bridge_degraded: str = ""  # bridge-health keeper: this bridge reports degraded
    breaker_open: str = ""  # backend: this circuit breaker is open
    db_pool_exhausted: bool = False  # every connection of the pool is held by stalled work
    hedge_seconds: float = 0.0  # backend: simulated hedge execution time (0: the healthy 2-20 s)
    claims_per_minute: float = 0.0  # backend: claims filed (0: none)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Behaviour":
        return cls(**data)


HEALTHY = Behaviour()

# fault name (the tag's suffix) -> behaviour. The drills and tests iterate over this table.
FAULTS: dict[str, Behaviour] = {
    "bad-errors": Behaviour(error_every=20),  # 5% of requests fail with 503
    "slow": Behaviour(slow_every=20, slow_ms=600),  # 5% of requests take 600 ms more: p99 above 500 ms
    "quiet": Behaviour(requests_per_second=1 / 30),  # almost no traffic: too few requests to judge
    "stopped": Behaviour(serving=False),
    "keeper-paused": Behaviour(keeper_updates=False),
    "keeper-failing": Behaviour(keeper_stale_sequence=True),
    "bridge-degraded": Behaviour(bridge_degraded="ethereum"),
    "breaker-open": Behaviour(breaker_open="polymarket"),
    "db-pool-exhausted": Behaviour(db_pool_exhausted=True),
    "hedge-slow": Behaviour(hedge_seconds=90.0),
    "claims-surge": Behaviour(claims_per_minute=20.0),
}


def image_tag(image: str) -> str:
    """The tag of an image reference ("" for a digest-only reference)."""
    name = image.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def fault_of_tag(tag: str) -> str | None:
    """The fault a tag names: the longest table name that the tag ends with after a '-', else None."""
    names = [name for name in FAULTS if tag.endswith(f"-{name}")]
    return max(names, key=len) if names else None


def behaviour_for(image: str, overrides: tuple[str, ...] = ()) -> Behaviour:
    """The behaviour of a pod running `image`: its tag's fault, then a drill's faults on top (each changes only
    what its row changes, so a drill can combine them: a stalled pool and a slow release at once)."""
    merged = {}
    for name in (fault_of_tag(image_tag(image)), *overrides):
        if name:
            merged.update({key: value for key, value in FAULTS[name].as_dict().items()
                           if value != getattr(HEALTHY, key)})
    return Behaviour(**{**HEALTHY.as_dict(), **merged})


