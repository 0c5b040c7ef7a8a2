"""A small client of the Kubernetes REST API for the local servers: list and watch objects of one namespace
on the loopback API server named by a kubeconfig (client certificates or a token, as kwokctl writes them).

It refuses any server that is not on 127.0.0.0/8 or localhost: the local servers talk to the API server
only, never to the simulated cluster's pod, node or service addresses.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import ssl
import tempfile
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode, urlparse

import yaml


class KubeApiError(RuntimeError):
    """The API server cannot be reached or refused a request; the message says which."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class KubeApi:
    def __init__(self, kubeconfig: Path, timeout: float = 10):
        config = yaml.safe_load(Path(kubeconfig).read_text())
        context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next((u["user"] for u in config.get("users", []) if u["name"] == context.get("user")), {})
        url = urlparse(cluster["server"])
        if url.scheme != "https" or not _loopback(url.hostname or ""):
            raise KubeApiError(f"{kubeconfig}: the API server {cluster['server']} is not a loopback https address; "
                               "the local servers only talk to the local cluster's API server")
        self.server = cluster["server"]
        self._host, self._port, self._timeout = url.hostname, url.port or 443, timeout
        self._inline: list[str] = []  # inline -data written to files for ssl, removed once loaded
        try:
            self._context = ssl.create_default_context(cafile=self._file(cluster, "certificate-authority", kubeconfig))
            if cluster.get("insecure-skip-tls-verify"):  # as kubectl does with this kubeconfig
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE
            certificate = self._file(user, "client-certificate", kubeconfig)
            if certificate:
                self._context.load_cert_chain(certificate, self._file(user, "client-key", kubeconfig))
        finally:
            for path in self._inline:
                Path(path).unlink(missing_ok=True)
        self._headers = {"Accept": "application/json"}
        if user.get("token"):
            self._headers["Authorization"] = f"Bearer {user['token']}"

    def _file(self, section: dict, key: str, kubeconfig: Path) -> str | None:
        """A kubeconfig file reference (relative to the kubeconfig) or inline `-data`, as a path ssl can load."""
        if section.get(key):
            return str((Path(kubeconfig).parent / section[key]).resolve())
        if section.get(f"{key}-data"):
            handle = tempfile.NamedTemporaryFile(prefix="kubeapi-", suffix=".pem", delete=False)
            handle.write(base64.b64decode(section[f"{key}-data"]))
            handle.close()
            self._inline.append(handle.name)
            return handle.name
        return None

    def _connect(self, timeout: float) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self._host, self._port, context=self._context, timeout=timeout)

    def get(self, path: str, **query) -> dict:
        connection = self._connect(self._timeout)
        try:
            connection.request("GET", f"{path}?{urlencode(query)}" if query else path, headers=self._headers)
            response = connection.getresponse()
            body = response.read()
        except OSError as err:
            raise KubeApiError(f"API server {self.server} does not answer: {err}") from None
        finally:
            connection.close()
        if response.status != 200:
            raise KubeApiError(f"GET {path}: {response.status} {body[:300].decode(errors='replace')}")
        return json.loads(body)

    def watch(self, path: str, resource_version: str, timeout_seconds: int = 60) -> Iterator[dict]:
        """Watch events ({"type": ..., "object": ...}) after `resource_version` until the server ends the
        watch (about `timeout_seconds`). An ERROR event (e.g. 410 Gone) is yielded like the others."""
        query = urlencode({"watch": "1", "resourceVersion": resource_version, "timeoutSeconds": timeout_seconds})
        connection = self._connect(timeout_seconds + 30)
        try:
            connection.request("GET", f"{path}?{query}", headers=self._headers)
            response = connection.getresponse()
            if response.status != 200:
                raise KubeApiError(f"watch {path}: {response.status} {response.read()[:300].decode(errors='replace')}")
            for line in response:
                if line.strip():
                    yield json.loads(line)
        except OSError as err:
            raise KubeApiError(f"watch {path} on {self.server} broke: {err}") from None
        finally:
            connection.close()
