"""The database's TLS for the pods that read DATABASE_URL (the services that read it, the PostgreSQL exporter,
the backup CronJob), on stacks that set tonsurance:database.sslMode (testnet and mainnet: verify-full).

libpq (and lib/pq, the exporter's driver) take PGSSLMODE and PGSSLROOTCERT from the environment for whatever
the DSN leaves unset, so every such container gets both, and the CA bundle of database.sslRootCert is the
ConfigMap `database-ca` (a CA certificate is public), mounted read-only at CA_PATH. A DSN that sets its own
weaker sslmode would override them: `python -m ops preflight` refuses such a `database-url` (ops/endpoints.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config.types import DatabaseConfig

DATABASE_CA = "database-ca"  # the ConfigMap (BackendServices creates it in the stack's namespace)
CA_KEY = "ca.crt"
CA_DIR = "/etc/tonsurance/database-ca"
CA_PATH = f"{CA_DIR}/{CA_KEY}"
VOLUME = "database-ca"


@dataclass(frozen=True)
class DatabaseTls:
    ssl_mode: str
    ca_bundle: str | None  # PEM text of database.sslRootCert; None: libpq's default (no verify-* mode then)

    @classmethod
    def from_config(cls, database: DatabaseConfig) -> "DatabaseTls | None":
        """None where the config sets no sslmode (the local stack's socket): the pods then get nothing."""
        if database.ssl_mode is None:
            return None
        return cls(database.ssl_mode, Path(database.ssl_root_cert).read_text() if database.ssl_root_cert else None)

    def env(self) -> list[dict]:
        """The libpq variables, as Kubernetes env entries."""
        return [{"name": "PGSSLMODE", "value": self.ssl_mode},
                *([{"name": "PGSSLROOTCERT", "value": CA_PATH}] if self.ca_bundle else [])]

    def volumes(self) -> list[dict]:
        return [{"name": VOLUME, "configMap": {"name": DATABASE_CA, "items": [{"key": CA_KEY, "path": CA_KEY}]}}] \
            if self.ca_bundle else []

    def mounts(self) -> list[dict]:
        return [{"name": VOLUME, "mountPath": CA_DIR, "readOnly": True}] if self.ca_bundle else []

    # The same entries as pulumi_kubernetes arguments, for the components that build typed objects.
    def env_args(self) -> list:
        import pulumi_kubernetes as k8s

        return [k8s.core.v1.EnvVarArgs(name=e["name"], value=e["value"]) for e in self.env()]

    def volume_args(self) -> list:
        import pulumi_kubernetes as k8s

        core = k8s.core.v1
        return [core.VolumeArgs(name=v["name"], config_map=core.ConfigMapVolumeSourceArgs(
            name=DATABASE_CA, items=[core.KeyToPathArgs(key=CA_KEY, path=CA_KEY)])) for v in self.volumes()]

    def mount_args(self) -> list:
        import pulumi_kubernetes as k8s

        return [k8s.core.v1.VolumeMountArgs(name=m["name"], mount_path=m["mountPath"], read_only=True)
                for m in self.mounts()]
