"""The environment a child tool (pg_dump, pg_restore, git, kubectl...) runs with: only what it needs.

A child inherits nothing by default: not the operator's cloud credentials, the Pulumi passphrase, tokens or
DSNs of other variables. It gets the search path and locale, the variables named in `keep` that are set, and
the `extra` values given (e.g. PGPASSWORD for the one server it talks to).
"""
from __future__ import annotations

import os
from typing import Iterable, Mapping

BASE = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
# libpq settings that choose how (never with what secret) a tool connects: TLS files and modes, timeouts.
LIBPQ = ("PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGSSLCRL", "PGCONNECT_TIMEOUT", "PGTARGETSESSIONATTRS",
         "PGUSER", "PGHOST", "PGPORT")


def minimal_env(keep: Iterable[str] = (), extra: Mapping[str, str] | None = None,
                source: Mapping[str, str] | None = None) -> dict[str, str]:
    source = os.environ if source is None else source
    env = {name: source[name] for name in (*BASE, *keep) if name in source}
    env.update(extra or {})
    return env
