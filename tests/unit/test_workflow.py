"""The deploy workflow (.github/workflows/deploy.yml and its local action .github/actions/toolchain): linted by
actionlint (built by scripts/bootstrap from its pinned Go module), its shell steps run as the shells they are
(the plan's gates, the bootstrap's environment), and its structure held to the guide and the security review:
job order and gates, credentials only after the bootstrap, third-party actions pinned by commit, caches keyed
by the bootstrap's own inputs, and the failure notice."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.local_http import answer, local_server

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "deploy.yml"
LOCAL_ACTIONS = ROOT / ".github" / "actions"
ACTIONLINT = ROOT / ".tools" / "bin" / "actionlint"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


@pytest.fixture(scope="module")
def actionlint() -> Path:
    if not ACTIONLINT.exists():
        pytest.fail("actionlint is missing: run scripts/bootstrap (make test does)")
    return ACTIONLINT


def lint(actionlint: Path, path: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(actionlint), "-no-color", str(path)], capture_output=True, text=True, cwd=cwd)


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())  # YAML anchors (the credentials' env) resolved as GitHub does


def steps(job: dict) -> list[dict]:
    """The job's steps with each local composite action's own steps in its place (what really runs)."""
    expanded = []
    for step in job["steps"]:
        uses = step.get("uses", "")
        if uses.startswith("./"):
            action = yaml.safe_load((ROOT / uses / "action.yml").read_text())
            assert action["runs"]["using"] == "composite"
            expanded += [{**inner, "_in": uses} for inner in action["runs"]["steps"]]
        else:
            expanded.append(step)
    return expanded


def names(job: dict) -> list[str]:
    return [s.get("name") or s.get("uses") for s in steps(job)]


def step(job: dict, name: str) -> dict:
    return next(s for s in steps(job) if s.get("name") == name)


def text(value) -> str:
    return json.dumps(value)


# ---- lint --------------------------------------------------------------------------------------------------

def test_every_workflow_passes_actionlint(actionlint):
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert WORKFLOW in files
    for path in files:
        run = lint(actionlint, path)
        assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("good, broken, complaint", [
    ("needs: [plan, tests, secret-scan]", "needs: [plan, tests, secret-scn]", 'needs job "secret-scn"'),
    ('go-build-cache: "true"', 'go-build-cach: "true"', 'input "go-build-cach" is not defined'),
    ("${{ steps.record.outputs.file }}", "${{ steps.recrd.outputs.file }}", "recrd"),
])
def test_actionlint_catches_a_broken_copy(actionlint, tmp_path, good, broken, complaint):
    """The lint is real, local action included: a needed job that does not exist, an input the action lacks,
    a step output that nothing sets."""
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    (tmp_path / ".git").mkdir()  # actionlint resolves local actions from the repository's root
    copy = tmp_path / ".github" / "workflows" / "deploy.yml"
    assert good in copy.read_text()
    copy.write_text(copy.read_text().replace(good, broken))
    run = lint(actionlint, copy, cwd=tmp_path)
    assert run.returncode != 0 and complaint in run.stdout, run.stdout


# ---- triggers and the plan ---------------------------------------------------------------------------------

def test_the_guides_triggers():
    on = workflow()[True]  # YAML reads the key `on` as True
    assert set(on) == {"pull_request", "push", "workflow_dispatch"}
    assert on["push"] == {"branches": ["**"]}  # every branch; tags deploy nothing
    inputs = on["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"stack", "deployment_type", "confirm"}
    assert inputs["stack"]["options"] == ["testnet", "mainnet"]


def plan(tmp_path: Path, event: str, ref: str, stack: str = "", confirm: str = "",
         deployment_type: str = "") -> tuple[subprocess.CompletedProcess, dict]:
    """The plan step run as the bash it is, with the values GitHub would put in its env."""
    script = step(workflow()["jobs"]["plan"], "What this run deploys")["run"]
    output = tmp_path / "github-output"
    output.touch()
    env = {**os.environ, "EVENT": event, "REF": ref, "INPUT_STACK": stack, "INPUT_TYPE": deployment_type,
           "CONFIRM": confirm, "GITHUB_OUTPUT": str(output)}
    run = subprocess.run(["bash", "-eo", "pipefail", "-c", script], env=env, capture_output=True, text=True)
    return run, dict(line.split("=", 1) for line in output.read_text().splitlines())


@pytest.mark.parametrize("event, ref, stack, confirm, expected", [
    ("pull_request", "refs/pull/7/merge", "", "", {"deploy": "false", "stack": ""}),
    ("push", "refs/heads/feature/x", "", "", {"deploy": "false", "stack": ""}),
    ("push", "refs/heads/main", "", "", {"deploy": "false", "stack": ""}),   # mainnet stays manual
    ("push", "refs/heads/develop", "", "", {"deploy": "true", "stack": "testnet", "deployment_type": "full_deployment"}),
    ("workflow_dispatch", "refs/heads/feature/x", "testnet", "", {"deploy": "true", "stack": "testnet"}),
    ("workflow_dispatch", "refs/heads/main", "mainnet", "MAINNET", {"deploy": "true", "stack": "mainnet"}),
])
def test_what_each_trigger_deploys(tmp_path, event, ref, stack, confirm, expected):
    run, outputs = plan(tmp_path, event, ref, stack, confirm, "full_deployment" if stack else "")
    assert run.returncode == 0, run.stdout + run.stderr
    assert expected.items() <= outputs.items()


@pytest.mark.parametrize("ref, confirm, message", [
    ("refs/heads/main", "", "confirm input to read MAINNET"),
    ("refs/heads/main", "mainnet", "confirm input to read MAINNET"),
    ("refs/heads/develop", "MAINNET", "mainnet deploys only from main, not refs/heads/develop"),
    ("refs/heads/main-hotfix", "MAINNET", "mainnet deploys only from main"),
])
def test_mainnet_needs_the_word_and_the_main_branch(tmp_path, ref, confirm, message):
    run, outputs = plan(tmp_path, "workflow_dispatch", ref, "mainnet", confirm, "full_deployment")
    assert run.returncode == 1 and message in run.stdout
    assert outputs == {}  # nothing for the later jobs to act on


def test_dispatch_inputs_reach_the_plan_only_through_env():
    """No `${{ inputs... }}` spliced into a script: a crafted input cannot become shell code."""
    for job in workflow()["jobs"].values():
        for s in steps(job):
            assert "${{" not in s.get("run", ""), s


# ---- job order and gates -----------------------------------------------------------------------------------

def test_tests_and_secret_scan_gate_the_approval_which_gates_the_deploy():
    jobs = workflow()["jobs"]
    assert jobs["tests"]["needs"] == jobs["secret-scan"]["needs"] == "plan"
    deploy = jobs["deploy"]
    assert set(deploy["needs"]) == {"plan", "tests", "secret-scan"}
    # The approval is the environment's required reviewers: GitHub starts no step of this job before it.
    assert deploy["environment"] == {"name": "${{ needs.plan.outputs.stack }}"}
    assert [name for name, job in jobs.items() if "environment" in job] == ["deploy"]
    # Mainnet again in the deploy job's own condition (the plan refuses it first, loudly).
    assert "needs.plan.outputs.deploy == 'true'" in deploy["if"]
    assert "needs.plan.outputs.stack != 'mainnet' || github.ref == 'refs/heads/main'" in deploy["if"]
    assert deploy["concurrency"] == {"group": "deploy-${{ needs.plan.outputs.stack }}", "cancel-in-progress": False}


DEPLOY_ORDER = ["Bootstrap", "Provider plugins present", "Network config fetched and checked", "AWS role (OIDC)",
                "Preflight", "Preview with the policy pack", "Up", "Deployment record", "Verify",
                "Watch the fresh deploy for 30 minutes"]


def test_deploy_steps_follow_the_guide():
    deploy = workflow()["jobs"]["deploy"]
    order = names(deploy)
    assert [n for n in order if n in DEPLOY_ORDER] == DEPLOY_ORDER
    assert order.index("Roll services back to the previous record") < order.index("Deployment record")
    assert "python -m ops network-config --network \"$STACK\"" in step(deploy, "Network config fetched and checked")["run"]
    assert "scripts/provider_plugins.py check" in step(deploy, "Provider plugins present")["run"]
    for name in ("Preview with the policy pack", "Up"):
        assert "--policy-pack policy" in step(deploy, name)["run"]
    assert "python -m ops record --stack \"$STACK\"" in step(deploy, "Deployment record")["run"]
    watch = step(deploy, "Watch the fresh deploy for 30 minutes")
    assert "python -m ops watch --stack \"$STACK\" --minutes 30" in watch["run"]
    assert watch["if"].startswith("needs.plan.outputs.stack == 'mainnet'")
    assert step(deploy, "Up")["if"] == "needs.plan.outputs.deployment_type == 'full_deployment'"
    # preflight and verify are piped into tee: only `shell: bash` (-eo pipefail) lets their failure stop the job.
    assert workflow()["defaults"]["run"]["shell"] == "bash"


def test_the_watch_reaches_the_stacks_prometheus_and_alertmanager_through_a_port_forward():
    """The stack's Prometheus address is in-cluster, out of a runner's reach: the watch step forwards the
    monitoring release's Prometheus and Alertmanager to the runner's loopback and passes those addresses."""
    from components.platform_charts import CHARTS, KUBE_PROMETHEUS_STACK

    deploy = workflow()["jobs"]["deploy"]
    run = step(deploy, "Watch the fresh deploy for 30 minutes")["run"]
    monitoring_namespace = next(c.namespace for c in CHARTS if c.key == KUBE_PROMETHEUS_STACK)
    assert 'KUBECONFIG' not in run  # the job's kubeconfig, from the step "Cluster access"
    forwards = dict(re.findall(rf"kubectl port-forward -n {monitoring_namespace} svc/(\S+) (\d+):\d+ ", run))
    assert forwards == {"prometheus-operated": "9090", "alertmanager-operated": "9093"}
    watch_line = next(line for line in run.splitlines() if "python -m ops watch" in line)
    assert f"--prometheus-url http://127.0.0.1:{forwards['prometheus-operated']}" in watch_line
    assert f"--alertmanager-url http://127.0.0.1:{forwards['alertmanager-operated']}" in watch_line
    assert run.index("port-forward") < run.index("python -m ops watch")
    assert "trap 'kill $(jobs -p)" in run  # the forwards end with the step


def test_every_step_that_reaches_the_cluster_runs_after_the_jobs_kubeconfig_is_made():
    """The Kubernetes provider (preview, up), verify's kubectl and the watch's port-forwards read KUBECONFIG: one
    step writes it from the environment's EKS cluster with the role's credentials, before any of them."""
    deploy = workflow()["jobs"]["deploy"]
    names = [s.get("name") for s in deploy["steps"]]
    access = step(deploy, "Cluster access")
    assert deploy["env"]["EKS_CLUSTER"] == "${{ vars.EKS_CLUSTER_NAME }}"
    assert 'aws eks update-kubeconfig --name "${EKS_CLUSTER:?' in access["run"]
    assert 'echo "KUBECONFIG=$RUNNER_TEMP/kubeconfig" >> "$GITHUB_ENV"' in access["run"]
    assert '--kubeconfig "$RUNNER_TEMP/kubeconfig"' in access["run"]
    assert access["env"]["AWS_SESSION_TOKEN"] == "${{ steps.aws.outputs.aws-session-token }}"
    assert names.index("AWS role (OIDC)") < names.index("Cluster access")
    for later in ("Preflight", "Preview with the policy pack", "Up", "Roll services back to the previous record",
                  "Verify", "Watch the fresh deploy for 30 minutes"):
        assert names.index("Cluster access") < names.index(later), later


def test_every_ops_command_the_workflow_runs_parses():
    """`python -m ops ...` lines of the deploy job, shell variables given values, parse with the real parser."""
    from ops.__main__ import build_parser

    runs = [line.strip() for s in workflow()["jobs"]["deploy"]["steps"] for line in s.get("run", "").splitlines()
            if "python -m ops " in line]
    assert any(" watch " in line for line in runs) and any(" verify " in line for line in runs)
    for line in runs:
        argv = line.split("python -m ops ", 1)[1].split("|")[0].split("--json")[0]
        argv = argv.replace('"$STACK"', "mainnet").split()
        assert build_parser().parse_args(argv).module, line


def test_records_are_named_by_the_ops_command_not_a_fixed_path():
    deploy = workflow()["jobs"]["deploy"]
    upload = next(s for s in steps(deploy) if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert "deployments/" not in text(deploy)
    assert "${{ steps.record.outputs.file }}" in upload["with"]["path"]


@pytest.mark.parametrize("printed, kept", [("local", True), ("s3://tonsurance-pulumi-state/records/x.json", False)])
def test_the_record_step_takes_the_location_the_command_prints(tmp_path, printed, kept):
    """The step run as written, with `python` standing in for the ops command's output: the printed location goes
    to the summary, and to the artifact only when it is a file on the runner."""
    record = tmp_path / "testnet-20260101-000000.json"
    record.write_text("{}")
    location = str(record) if printed == "local" else printed
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "env.sh").write_text(f'export PATH="{tmp_path / "bin"}:$PATH"\n')
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text(f'#!/bin/sh\necho "stack testnet"\necho "deployment record: {location}"\n')
    (tmp_path / "bin" / "python").chmod(0o755)
    output, summary = tmp_path / "output", tmp_path / "summary"
    script = step(workflow()["jobs"]["deploy"], "Deployment record")["run"]
    run = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "STACK": "testnet", "GITHUB_OUTPUT": str(output),
                              "GITHUB_STEP_SUMMARY": str(summary)})
    assert run.returncode == 0, run.stderr
    assert summary.read_text() == f"Deployment record of testnet: {location}\n"
    assert (output.read_text() if output.exists() else "") == (f"file={record}\n" if kept else "")


def test_a_failed_deploy_notifies_the_ops_channel():
    jobs = workflow()["jobs"]
    notify = jobs["notify"]
    assert set(notify["needs"]) == {"plan", "tests", "secret-scan", "deploy"}
    assert notify["if"].startswith("failure() && ")
    assert "needs.plan.outputs.deploy == 'true'" in notify["if"]  # develop pushes and manual runs, not every PR
    tell = step(notify, "Tell the ops channel")
    assert tell["env"]["OPS_WEBHOOK_URL"] == "${{ secrets.OPS_WEBHOOK_URL }}"
    assert tell["run"] == "python3 scripts/notify_ops.py"  # the runner's Python: works when the bootstrap failed
    assert "environment" not in notify  # no approval between a failure and its notice


# ---- credentials -------------------------------------------------------------------------------------------

CREDENTIALS = re.compile(r"secrets\.|steps\.aws\.outputs")


def test_no_step_before_the_bootstrap_finishes_holds_a_credential():
    flow = workflow()
    assert not CREDENTIALS.search(text(flow.get("env", {})))
    for name, job in flow["jobs"].items():
        assert not CREDENTIALS.search(text(job.get("env", {}))), name  # job env reaches every step
        order = names(job)
        if "Bootstrap" not in order:
            continue
        for s in steps(job)[: order.index("Bootstrap") + 1]:
            assert not CREDENTIALS.search(text(s)), (name, s)
            assert "configure-aws-credentials" not in s.get("uses", ""), (name, s)


def test_credentials_reach_only_the_steps_that_use_them():
    deploy = workflow()["jobs"]["deploy"]
    order = names(deploy)
    assume = step(deploy, "AWS role (OIDC)")
    assert assume["with"]["output-env-credentials"] is False and assume["with"]["output-credentials"] is True
    holders = [s.get("name") for s in steps(deploy) if CREDENTIALS.search(text(s))]
    assert holders == ["Cluster access", "Preflight", "Preview with the policy pack", "Up",
                       "Roll services back to the previous record", "Deployment record", "Verify",
                       "Watch the fresh deploy for 30 minutes"]
    assert all(order.index(h) > order.index("AWS role (OIDC)") for h in holders)
    for s in steps(deploy):
        if s.get("name") == "Cluster access":  # the EKS token only: no state backend, no passphrase
            assert "aws eks update-kubeconfig" in s["run"] and "PULUMI" not in text(s), s
        elif s.get("name") in holders:  # each runs the engine or an ops command, which reach AWS and the backend
            assert "pulumi " in s["run"] or "python -m ops " in s["run"], s


def test_only_the_deploy_job_may_ask_for_an_oidc_token():
    flow = workflow()
    assert flow["permissions"] == {"contents": "read"}
    assert {name for name, job in flow["jobs"].items() if "id-token" in text(job.get("permissions", {}))} == {"deploy"}
    assert flow["jobs"]["deploy"]["permissions"] == {"contents": "read", "id-token": "write"}


def test_checkouts_leave_no_token_behind():
    for job in workflow()["jobs"].values():
        for s in steps(job):
            if s.get("uses", "").startswith("actions/checkout@"):
                assert s["with"]["persist-credentials"] is False


def test_the_bootstrap_runs_without_the_oidc_request_token(tmp_path):
    """The runner hands every step of an id-token job ACTIONS_ID_TOKEN_REQUEST_*; the Bootstrap step, run as
    written, starts scripts/bootstrap (here a stand-in that prints its environment) without them."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "bootstrap").write_text("#!/bin/sh\nenv\n")
    (tmp_path / "scripts" / "bootstrap").chmod(0o755)
    for job in ("tests", "deploy"):
        script = step(workflow()["jobs"][job], "Bootstrap")["run"]
        env = {**os.environ, "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.example/x",
               "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runtime-token-value"}
        run = subprocess.run(["bash", "-eo", "pipefail", "-c", script], env=env, cwd=tmp_path,
                             capture_output=True, text=True, check=True)
        assert "ACTIONS_ID_TOKEN_REQUEST" not in run.stdout and "PATH=" in run.stdout


# ---- actions pinned ----------------------------------------------------------------------------------------

def uses_lines() -> list[tuple[Path, str]]:
    files = [*WORKFLOWS.glob("*.y*ml"), *LOCAL_ACTIONS.glob("*/action.y*ml")]
    return [(path, line.strip()) for path in files for line in path.read_text().splitlines()
            if re.match(r"^\s*(-\s+)?uses:", line)]


def test_every_third_party_action_is_pinned_by_commit_with_its_tag():
    found = uses_lines()
    assert len(found) > 10
    pins: dict[str, set[str]] = {}
    for path, line in found:
        reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        if reference.startswith("./"):
            assert (ROOT / reference / "action.yml").exists(), line
            continue
        assert SHA_PIN.match(reference), f"{path.name}: {line} is not pinned by a full commit SHA"
        assert re.search(r"#\s*v\d+\.\d+\.\d+$", line), f"{path.name}: {line} names no tag in its comment"
        action, sha = reference.split("@")
        pins.setdefault(action.split("/")[0] + "/" + action.split("/")[1], set()).add(sha)
    # One commit per action repository (actions/cache and actions/cache/save share theirs).
    assert {repo: len(shas) for repo, shas in pins.items()} == {repo: 1 for repo in pins}


# ---- caches ------------------------------------------------------------------------------------------------

def test_the_tests_job_saves_every_cache_the_toolchain_restores():
    action = yaml.safe_load((LOCAL_ACTIONS / "toolchain" / "action.yml").read_text())
    restored = {s["with"]["key"] for s in action["runs"]["steps"] if s.get("uses", "").startswith("actions/cache/restore@")}
    tests = workflow()["jobs"]["tests"]
    saved = [s for s in steps(tests) if s.get("uses", "").startswith("actions/cache/save@")]
    as_outputs = {key.replace("steps.keys.outputs.", "steps.toolchain.outputs.") for key in restored}
    assert {s["with"]["key"] for s in saved} == as_outputs
    order = names(tests)
    assert all(order.index("Bootstrap") < order.index(s["name"]) < order.index("Every test") for s in saved)
    deploy = workflow()["jobs"]["deploy"]
    assert not [s for s in steps(deploy) if "actions/cache/save@" in s.get("uses", "")]  # deploys only restore


def cache_keys(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([root / "scripts" / "ci_cache_keys", *args], capture_output=True, text=True, cwd=root,
                          env={**os.environ, **(env or {})})


def keys(root: Path) -> dict[str, str]:
    run = cache_keys(root, "github")
    assert run.returncode == 0, run.stderr
    return dict(line.split("=", 1) for line in run.stdout.splitlines())


@pytest.fixture
def project_copy(tmp_path):
    """The files the bootstrap hashes, in a copy that a test may change."""
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    shutil.copytree(ROOT / "toolchain", copy / "toolchain")
    for name in ("requirements.txt", "constraints.txt", "package.json", "package-lock.json"):
        shutil.copy(ROOT / name, copy / name)
    return copy


@pytest.mark.parametrize("changed, moved", [
    ("toolchain/actionlint/go.sum", {"tools-key", "go-key"}),
    ("toolchain/cluster.env", {"tools-key"}),
    ("constraints.txt", {"tools-key", "pip-key"}),   # the provider plugins' versions come from the Python pins
    ("package-lock.json", {"npm-key"}),
])
def test_cache_keys_move_with_the_bootstraps_inputs(project_copy, changed, moved):
    before = keys(project_copy)
    with (project_copy / changed).open("a") as file:
        file.write("\n# changed\n")
    after = keys(project_copy)
    assert {name for name in before if name.endswith("-key") and before[name] != after[name]} == moved
    assert before["tools-path"] == after["tools-path"]


def test_cache_keys_name_the_folders_the_bootstrap_filled():
    """After the bootstrap (make test runs it first), every tools-cache folder the keys are made of is there."""
    run = cache_keys(ROOT, "tools-dirs")
    folders = [Path(line) for line in run.stdout.splitlines()]
    steps = subprocess.run(["bash", "-c", f"source {ROOT}/scripts/bootstrap && echo ${{#CACHED_STEPS[@]}}"],
                           capture_output=True, text=True, check=True).stdout
    assert run.returncode == 0 and len(folders) == int(steps) >= 8
    for folder in folders:
        assert (folder / ".complete").exists(), f"{folder} is not in the tools cache: keys and bootstrap disagree"


def test_prune_keeps_this_checkouts_tools_and_only_runs_on_ci(project_copy, tmp_path):
    cache = tmp_path / "cache"
    env = {"TONSURANCE_TOOLS_CACHE": str(cache)}
    (project_copy / ".venv" / "bin").mkdir(parents=True)  # the plugin versions come from the installed SDKs
    wrapper = project_copy / ".venv" / "bin" / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {ROOT / ".venv" / "bin" / "python"} "$@"\n')
    wrapper.chmod(0o755)
    plugin_dirs = subprocess.run(
        ["bash", "-c", f"source scripts/bootstrap; while read -r n v; do tools_cache_dir plugin-$n $v; done "
                       f"< <(.venv/bin/python scripts/provider_plugins.py list)"],
        cwd=project_copy, env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout.split()
    current = [Path(line) for line in cache_keys(project_copy, "tools-dirs", env=env).stdout.splitlines()]
    current += [Path(line) for line in plugin_dirs]
    stale = [cache / "pulumi-cli-0000000000000000", cache / "plugin-aws-0000000000000000"]
    for folder in current + stale:
        folder.mkdir(parents=True)
        (folder / ".complete").touch()
    refused = cache_keys(project_copy, "prune", env={**env, "CI": "false"})
    assert refused.returncode == 2 and "pruning is for CI" in refused.stderr
    assert all(folder.exists() for folder in stale)
    pruned = cache_keys(project_copy, "prune", env={**env, "CI": "true"})
    assert pruned.returncode == 0, pruned.stderr
    steps = subprocess.run(["bash", "-c", f"source {ROOT}/scripts/bootstrap && echo ${{#CACHED_STEPS[@]}}"],
                           capture_output=True, text=True, check=True).stdout
    assert sorted(cache.iterdir()) == sorted(current) and len(current) == int(steps) + len(plugin_dirs) >= 10


# ---- the failure notice ------------------------------------------------------------------------------------

WEBHOOK_PATH = "/services/T000/B000/s3cr3t-webhook-token"
NEEDS = {"plan": {"result": "success"}, "tests": {"result": "success"}, "secret-scan": {"result": "success"},
         "deploy": {"result": "failure"}}


def notify(url: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "OPS_WEBHOOK_URL"}
    env.update(STACK="mainnet", DEPLOYMENT_TYPE="full_deployment", NEEDS=json.dumps(NEEDS), GITHUB_RUN_ID="4242",
               GITHUB_SERVER_URL="https://github.com", GITHUB_REPOSITORY="tonsurance/deploy", GITHUB_SHA="a" * 40,
               GITHUB_REF_NAME="main", GITHUB_ACTOR="alice")
    if url is not None:
        env["OPS_WEBHOOK_URL"] = url
    return subprocess.run([sys.executable, ROOT / "scripts" / "notify_ops.py"], env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_notice_names_the_stack_the_failed_job_and_the_run():
    with local_server({WEBHOOK_PATH: answer(200, b"ok", "text/plain")}) as server:
        run = notify(server.url + WEBHOOK_PATH)
    assert run.returncode == 0, run.stderr
    [request] = server.requests
    assert request.method == "POST" and request.headers["Content-Type"] == "application/json"
    message = json.loads(request.body)["text"]
    assert "Deploy of mainnet failed (full_deployment)" in message and "deploy failure" in message
    assert "tests" not in message  # jobs that passed are not listed
    assert "https://github.com/tonsurance/deploy/actions/runs/4242" in message
    assert WEBHOOK_PATH not in run.stdout + run.stderr


@pytest.mark.parametrize("status, attempts", [(500, 3), (404, 1)])
def test_a_failed_notice_fails_without_showing_the_webhook(status, attempts):
    with local_server({WEBHOOK_PATH: answer(status, b"no", "text/plain")}) as server:
        run = notify(server.url + WEBHOOK_PATH)
    assert run.returncode == 1 and f"the webhook answered HTTP {status}" in run.stderr
    assert len(server.requests) == attempts  # a server error is retried, a refusal is not
    assert "s3cr3t" not in run.stdout + run.stderr and "127.0.0.1" not in run.stdout + run.stderr


def test_a_missing_webhook_secret_is_named():
    run = notify(None)
    assert run.returncode == 1 and "OPS_WEBHOOK_URL is not set" in run.stderr
