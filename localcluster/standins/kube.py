"""A small client of the local API server's REST API (list, get, watch), built from a kubeconfig.

The stand-in controller watches pods for as long as it runs; a kubectl process per look would cost more CPU
than everything it watches. Only the current context's cluster and user are read: a server URL with its
certificate authority and a client certificate, inline (`*-data`) or as files, as kwokctl writes them.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

import yaml


class KubeError(RuntimeError):
    pass


def _material(entry: dict, key: str, base: Path, keep: list) -> str | None:
    """A file path for `key` of a kubeconfig entry, writing `<key>-data` to a private temporary file."""
    if entry.get(f"{key}-data"):
        handle = tempfile.NamedTemporaryFile(prefix="standins-kube-", suffix=".pem")
        handle.write(base64.b64decode(entry[f"{key}-data"]))
        handle.flush()
        keep.append(handle)  # deleted when the client is
        return handle.name
    if entry.get(key):
        path = Path(entry[key])
        return str(path if path.is_absolute() else base / path)
    return None


class Kube:
    def __init__(self, kubeconfig: Path):
        try:
            config = yaml.safe_load(kubeconfig.read_text())
        except OSError as err:
            raise KubeError(f"cannot read kubeconfig {kubeconfig}: {err}; start the cluster (scripts/cluster start)") from None
        context_name = config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        self._files: list = []
        base = kubeconfig.parent
        self.server = cluster["server"].rstrip("/")
        self.context = ssl.create_default_context(cafile=_material(cluster, "certificate-authority", base, self._files))
        certificate = _material(user, "client-certificate", base, self._files)
        if certificate:
            self.context.load_cert_chain(certificate, _material(user, "client-key", base, self._files))
        self.token = user.get("token")

    def _open(self, path: str, params: dict | None = None, timeout: float = 30):
        url = f"{self.server}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                       **({"Authorization": f"Bearer {self.token}"} if self.token else {})})
        try:
            return urllib.request.urlopen(request, context=self.context, timeout=timeout)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise KubeError(f"GET {path}: {err.code} {err.read()[:300]!r}") from None
        except OSError as err:
            raise KubeError(f"the API server {self.server} did not answer GET {path}: {err}") from None

    def get(self, path: str, **params) -> dict | None:
        """The object or list at `path` (/api/v1/namespaces/ns/pods...), None when not found."""
        with_answer = self._open(path, params or None)
        if with_answer is None:
            return None
        with with_answer as answer:
            return json.loads(answer.read())

    def items(self, path: str, **params) -> list[dict]:
        found = self.get(path, **params)
        return found["items"] if found else []

    def watch(self, path: str, resource_version: str, timeout_seconds: int = 240, **params) -> Iterator[dict]:
        """Watch events ({"type", "object"}) after `resource_version`, until the server ends the watch."""
        answer = self._open(path, {**params, "watch": "1", "resourceVersion": resource_version,
                                   "timeoutSeconds": str(timeout_seconds), "allowWatchBookmarks": "true"},
                            timeout=timeout_seconds + 30)
        if answer is None:
            return
        with answer:
            for line in answer:
                if line.strip():
                    yield json.loads(line)
