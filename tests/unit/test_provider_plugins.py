"""Provider plugins as part of the pinned toolchain: the set the program needs, derived from the installed SDK
packages, is what scripts/bootstrap installs and what the workflow checks before it deploys. The bootstrap's
plugin step runs with the real Pulumi CLI against a plugin server on 127.0.0.1 (Pulumi's own download-URL
override), and against a closed port for a machine that cannot reach Pulumi's plugin releases."""
from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import socket
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

from tests.local_http import answer, local_server

ROOT = Path(__file__).resolve().parents[2]
PULUMI = ROOT / ".tools" / "bin" / "pulumi"


def provider_plugins():
    spec = importlib.util.spec_from_file_location("provider_plugins", ROOT / "scripts" / "provider_plugins.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def required() -> set[tuple[str, str]]:
    return {(plugin.name, plugin.version) for plugin in provider_plugins().required_plugins()}


def test_required_plugins_are_every_sdk_packages_resource_plugin():
    """Derived a second way: every pulumi-plugin.json at the top of a package in the virtualenv."""
    found = set()
    for manifest in Path(sysconfig.get_paths()["purelib"]).glob("*/pulumi-plugin.json"):
        data = json.loads(manifest.read_text())
        if data.get("resource", True):
            found.add((data["name"], data["version"]))
    assert found == required()
    assert {"kubernetes", "aws"} <= {name for name, _ in found}  # what the program registers today


def test_every_provider_the_program_imports_or_requires_has_its_plugin():
    """A provider added to requirements.txt or imported by the program cannot be left out of the set."""
    names = {name for name, _ in required()}
    pinned = re.findall(r"^pulumi-([a-z0-9-]+)==", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert set(pinned) - {"policy"} <= names  # pulumi-policy drives analyzers, not resources
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    sources = [ROOT / p for p in tracked.stdout.split() if not p.startswith("tests/")]
    imported = {m for p in sources for m in re.findall(r"^\s*(?:import|from) pulumi_([a-z0-9_]+)", p.read_text(),
                                                        re.MULTILINE)}
    assert imported, "the program imports provider SDKs"
    assert {m.replace("_", "-") for m in imported} - {"policy"} <= names


def plugin_tarball(name: str, version: str) -> bytes:
    """A release archive as Pulumi publishes them: the provider binary at its root."""
    script = f"#!/bin/sh\necho {name} {version}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"pulumi-resource-{name}")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    return buffer.getvalue()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def isolated(tmp_path):
    """A Pulumi home, a tools folder (with the real CLI) and a tools cache of the test's own."""
    if not PULUMI.exists():
        pytest.fail("the Pulumi CLI is missing: run scripts/bootstrap (make test does)")
    tools = tmp_path / "tools"
    (tools / "bin").mkdir(parents=True)
    (tools / "plugins").mkdir()
    (tools / "bin" / "pulumi").symlink_to(PULUMI)
    return {"home": tmp_path / "pulumi-home", "tools": tools, "cache": tmp_path / "cache"}


def run_plugin_step(isolated, download_url: str) -> subprocess.CompletedProcess:
    """scripts/bootstrap's plugin step, its downloads sent to `download_url` by Pulumi's URL override."""
    script = f"""
        source {ROOT}/scripts/bootstrap
        tools={isolated['tools']} tools_cache={isolated['cache']}
        export PULUMI_HOME={isolated['home']}
        export PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES='^github://api.github.com/pulumi={download_url}'
        step_provider_plugins
    """
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600)


def check(home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, ROOT / "scripts" / "provider_plugins.py", "check", "--pulumi-home", home],
                          capture_output=True, text=True, env={**os.environ, "GITHUB_ACTIONS": "false"})


def test_the_bootstrap_downloads_every_required_plugin_once_then_copies_it(isolated):
    plugins = required()
    routes = {f"/plugins/pulumi-resource-{name}-v{version}-linux-amd64.tar.gz": answer(200, plugin_tarball(name, version))
              for name, version in plugins}
    with local_server(routes) as server:
        first = run_plugin_step(isolated, f"{server.url}/plugins")
        downloads = [r.path for r in server.requests]
    assert first.returncode == 0, first.stderr
    assert sorted(downloads) == sorted(routes)
    assert check(isolated["home"]).returncode == 0
    for name, version in plugins:
        binary = isolated["home"] / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"
        assert subprocess.run([binary], capture_output=True, text=True).stdout == f"{name} {version}\n"
        assert f"plugins: downloaded {name} {version}" in first.stderr
    # Another checkout (a fresh Pulumi home), downloads unreachable: every plugin comes from the tools cache.
    isolated["home"] = isolated["home"].with_name("second-home")
    second = run_plugin_step(isolated, f"http://127.0.0.1:{closed_port()}/plugins")
    assert second.returncode == 0, second.stderr
    assert check(isolated["home"]).returncode == 0
    assert second.stderr.count("copying from the tools cache") == len(plugins)
    assert "not installed" not in second.stderr


def test_unreachable_plugin_releases_cost_one_line_and_the_workflow_check_names_each(isolated):
    run = run_plugin_step(isolated, f"http://127.0.0.1:{closed_port()}/plugins")
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("[bootstrap]")]
    assert len(lines) == 1, run.stderr
    for name, version in required():
        assert f"{name} {version}" in lines[0]
    assert "Pulumi's plugin releases are unreachable" in lines[0] and "the local stack needs none" in lines[0]
    assert not list(isolated["cache"].glob("plugin-*"))  # nothing half-stored in the tools cache
    refused = check(isolated["home"])
    assert refused.returncode == 1
    for name, version in required():
        assert f"provider plugin {name} {version}" in refused.stderr


def test_the_check_sees_an_interrupted_install_as_missing(isolated):
    name, version = sorted(required())[0]
    folder = isolated["home"] / "plugins" / f"resource-{name}-v{version}"
    folder.mkdir(parents=True)
    (folder / f"pulumi-resource-{name}").write_text("#!/bin/sh\n")
    (folder / f"pulumi-resource-{name}").chmod(0o755)
    (folder.parent / f"{folder.name}.partial").touch()
    assert f"provider plugin {name} {version}" in check(isolated["home"]).stderr


def test_the_bootstrap_refuses_a_kubernetes_sdk_other_than_the_built_provider():
    script = f"""
        source {ROOT}/scripts/bootstrap
        KUBERNETES_PROVIDER_VERSION=0.0.1
        check_versions
    """
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1
    assert "pulumi-kubernetes" in run.stderr and "provider built at 0.0.1" in run.stderr
