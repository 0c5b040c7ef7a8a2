"""The toolchain scripts/bootstrap builds: pinned versions, our language host, and a warm re-run that builds nothing."""

import re
import subprocess
from importlib.metadata import version
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"


def pinned() -> dict[str, str]:
    lines = (ROOT / "toolchain" / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_cli_and_python_sdk_are_the_pinned_version():
    out = subprocess.run([TOOLS / "bin" / "pulumi", "version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "v" + pinned()["PULUMI_VERSION"]
    assert version("pulumi") == pinned()["PULUMI_VERSION"]


def test_kubernetes_plugin_is_installed_at_the_sdk_version():
    plugin = (TOOLS / "pulumi-home" / "plugins" / f"resource-kubernetes-v{pinned()['KUBERNETES_PROVIDER_VERSION']}"
              / "pulumi-resource-kubernetes")
    assert plugin.exists()
    assert version("pulumi-kubernetes") == pinned()["KUBERNETES_PROVIDER_VERSION"]


@pytest.fixture
def language_host():
    """Our language host, started the way the engine starts it: engine address last, port on stdout."""
    proc = subprocess.Popen([TOOLS / "bin" / "pulumi-language-python", "127.0.0.1:1"],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield language_pb2_grpc.LanguageRuntimeStub(channel)
    channel.close()
    proc.kill()
    proc.wait()


def program_info(options: dict) -> language_pb2.ProgramInfo:
    opts = struct_pb2.Struct()
    opts.update(options)
    return language_pb2.ProgramInfo(root_directory=str(ROOT), program_directory=str(ROOT), entry_point=".",
                                    options=opts)


def test_language_host_reports_its_version(language_host):
    info = language_host.GetPluginInfo(empty_pb2.Empty())
    assert info.version == pinned()["PULUMI_VERSION"]


def test_language_host_runs_python_of_the_project_virtualenv(language_host):
    about = language_host.About(language_pb2.AboutRequest(info=program_info({"virtualenv": ".venv"})))
    assert about.executable == str(ROOT / ".venv" / "bin" / "python")
    assert about.version.startswith("3.11")


@pytest.mark.parametrize("options, expected", [
    ({}, "Pulumi.yaml must set runtime.options.virtualenv"),
    ({"virtualenv": "no-such-venv"}, "has no bin/python: run scripts/bootstrap"),
])
def test_language_host_refuses_to_run_without_the_virtualenv(language_host, options, expected):
    response = language_host.Run(language_pb2.RunRequest(project="p", stack="s", pwd=str(ROOT),
                                                         info=program_info(options)))
    assert expected in response.error


def test_warm_bootstrap_rebuilds_nothing():
    binaries = [TOOLS / "bin" / "pulumi", TOOLS / "bin" / "pulumi-language-python",
                TOOLS / "plugins" / "pulumi-resource-kubernetes", TOOLS / "bin" / "promtool", TOOLS / "bin" / "prometheus",
                TOOLS / "bin" / "alertmanager", TOOLS / "bin" / "amtool",
                TOOLS / "bin" / "actionlint", TOOLS / "bin" / "kube-apiserver", TOOLS / "bin" / "etcd",
                TOOLS / "bin" / "rollouts-controller"]
    before = [b.stat().st_mtime_ns for b in binaries]
    out = subprocess.run([ROOT / "scripts" / "bootstrap"], capture_output=True, text=True, check=True)
    assert [b.stat().st_mtime_ns for b in binaries] == before
    assert "building" not in out.stderr and "installing" not in out.stderr, out.stderr
    assert "ready in" in out.stderr


def run_plugin(language_host, plugin_dir: Path, options: dict, args=("127.0.0.1:1",)) -> dict:
    info = language_pb2.ProgramInfo(root_directory=str(plugin_dir), program_directory=str(plugin_dir),
                                    entry_point=".", options=program_info(options).options)
    found = {"stdout": b"", "stderr": b"", "exitcode": None}
    for message in language_host.RunPlugin(language_pb2.RunPluginRequest(
            pwd=str(plugin_dir), args=list(args), env=["PLUGIN_GREETING=hello"], info=info, kind="analyzer")):
        kind = message.WhichOneof("output")
        found[kind] = found[kind] + getattr(message, kind) if kind != "exitcode" else message.exitcode
    return found


def test_language_host_runs_a_python_plugin_folder(language_host, tmp_path):
    """RunPlugin (what the engine uses to start the policy pack): `python -u DIR` in the virtualenv of the
    plugin's options, with the engine's arguments and environment; output streamed, then the exit code."""
    (tmp_path / "__main__.py").write_text(
        "import os, sys\n"
        "print('4242')\n"
        "print(sys.executable, sys.argv[1:], os.environ['PLUGIN_GREETING'], os.environ['VIRTUAL_ENV'])\n"
        "print('to stderr', file=sys.stderr)\n"
        "sys.exit(3)\n")
    found = run_plugin(language_host, tmp_path, {"virtualenv": str(ROOT / ".venv")})
    lines = found["stdout"].decode().splitlines()
    assert lines[0] == "4242"
    assert lines[1] == f"{ROOT / '.venv' / 'bin' / 'python'} ['127.0.0.1:1'] hello {ROOT / '.venv'}"
    assert found["stderr"].decode() == "to stderr\n"
    assert found["exitcode"] == 3


def test_language_host_refuses_a_plugin_without_its_virtualenv(language_host, tmp_path):
    (tmp_path / "__main__.py").write_text("print(1)\n")
    with pytest.raises(grpc.RpcError) as info:
        run_plugin(language_host, tmp_path, {"virtualenv": "no-such-venv"})
    assert "has no bin/python: run scripts/bootstrap" in info.value.details()
def test_built_tools_are_reused_from_the_cache_outside_the_checkout(tmp_path):
    """cached_build: the first build stores its outputs under the cache key; a second checkout (here: the
    same step with the outputs gone) copies them instead of building."""
    out = tmp_path / "bin" / "tool"
    script = f"""
        source {ROOT}/scripts/bootstrap
        tools_cache={tmp_path}/cache
        build_tool() {{ echo BUILDING >&2; mkdir -p {out.parent}; echo v1 > {out}; }}
        cached_build tool hash-1 build_tool {out}
        rm {out}
        cached_build tool hash-1 build_tool {out}
        cat {out}
        cached_build tool hash-2 build_tool {out}
    """
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert run.stderr.count("BUILDING") == 2, run.stderr  # hash-1 once, hash-2 once
    assert "tool: copying from the tools cache" in run.stderr
    assert run.stdout.strip() == "v1"
    assert len(list((tmp_path / "cache").glob("tool-*/.complete"))) == 2


def test_cluster_binaries_report_the_pinned_versions():
    lines = (ROOT / "toolchain" / "cluster.env").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    apiserver = subprocess.run([TOOLS / "bin" / "kube-apiserver", "--version"], capture_output=True, text=True)
    assert apiserver.stdout.strip() == f"Kubernetes {env['KUBERNETES_VERSION']}"
    kubectl = subprocess.run([TOOLS / "bin" / "kubectl", "version", "--client", "-o", "json"],
                             capture_output=True, text=True, check=True)
    assert f'"gitVersion": "{env["KUBERNETES_VERSION"]}"' in kubectl.stdout
    etcd = subprocess.run([TOOLS / "bin" / "etcd", "--version"], capture_output=True, text=True, check=True)
    assert f"etcd Version: {env['ETCD_VERSION'].lstrip('v')}" in etcd.stdout
    kwok = subprocess.run([TOOLS / "bin" / "kwok", "--version"], capture_output=True, text=True, check=True)
    assert env["KWOK_VERSION"].lstrip("v") in kwok.stdout
    crds = sorted(p.name for p in (TOOLS / "crds").glob("*.yaml"))
    assert "rollout-crd.yaml" in crds and "monitoring.coreos.com_prometheusrules.yaml" in crds
    assert "external-secrets.io_externalsecrets.yaml" in crds


@pytest.mark.parametrize("binary, pins", [("prometheus", "prometheus"), ("promtool", "prometheus"),
                                          ("alertmanager", "alertmanager"), ("amtool", "alertmanager")])
def test_monitoring_binaries_report_the_pinned_versions(binary, pins):
    lines = (ROOT / "toolchain" / pins / "version.env").read_text().splitlines()
    (version,) = [line.split("=", 1)[1] for line in lines if line and not line.startswith("#")]
    out = subprocess.run([TOOLS / "bin" / binary, "--version"], capture_output=True, text=True, check=True)
    assert f"{binary}, version {version} " in out.stdout + out.stderr


def test_the_cli_keeps_no_automatic_log(tmp_path):
    """step_engine_log replaces the CLI's automatic log folder by a file; the CLI then runs without writing
    one (it cost half the engine's CPU in a no-op preview)."""
    home = tmp_path / "pulumi-home"
    (home / "logs").mkdir(parents=True)
    (home / "logs" / "pulumi-old-preview.log").write_bytes(b"PLOG")
    script = f"source {ROOT}/scripts/bootstrap; PULUMI_HOME={home}; step_engine_log; step_engine_log"
    subprocess.run(["bash", "-c", script], check=True, capture_output=True)
    assert (home / "logs").is_file()
    run = subprocess.run([TOOLS / "bin" / "pulumi", "version"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true"})
    assert run.returncode == 0 and run.stdout.startswith("v"), run.stderr
    assert (home / "logs").is_file() and [p.name for p in home.iterdir()] == ["logs"]
    assert (TOOLS / "pulumi-home" / "logs").is_file()  # this checkout's bootstrap turned it off too


def go_requirements(module_dir: str) -> dict[str, str]:
    """module -> version of every requirement in toolchain/<module_dir>/go.mod."""
    text = (ROOT / "toolchain" / module_dir / "go.mod").read_text()
    return dict(re.findall(r"^\s*(?:require\s+)?([\w.~-]+\.[\w./~-]+)\s+(v\S+)", text, re.M))


def test_the_language_host_shares_the_clis_module_versions():
    """Same versions, same compiled packages: the host's build reuses what the CLI's build compiled."""
    cli, host = go_requirements("cli"), go_requirements("python-host")
    shared = {module for module in host if module in cli}
    assert {"github.com/pulumi/pulumi/sdk/v3", "google.golang.org/grpc", "google.golang.org/protobuf"} <= shared
    assert {m: (host[m], cli[m]) for m in shared if host[m] != cli[m]} == {}


def test_tool_groups_run_together_and_any_failure_fails_the_bootstrap(tmp_path):
    """run_together: every group runs to its end, concurrently, and one failing group fails the whole run."""
    script = f"""
        source {ROOT}/scripts/bootstrap
        set -e
        slow_ok() {{ sleep 0.5; touch {tmp_path}/ok; }}
        failing() {{ false; touch {tmp_path}/after-false; }}
        run_together slow_ok failing
        touch {tmp_path}/not-reached
    """
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert run.returncode != 0
    assert (tmp_path / "ok").exists()                  # the other group finished
    assert not (tmp_path / "after-false").exists()     # errexit holds inside a group
    assert not (tmp_path / "not-reached").exists()
    both = subprocess.run(["bash", "-c", f"source {ROOT}/scripts/bootstrap; set -e; "
                           f"a() {{ sleep 0.3; touch {tmp_path}/a; }}; b() {{ touch {tmp_path}/b; }}; "
                           "run_together a b; echo done"], capture_output=True, text=True)
    assert both.returncode == 0 and both.stdout.strip() == "done"
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists()
