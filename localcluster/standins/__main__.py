"""`python -m localcluster.standins run|induce|clear|status`: the local stack's stand-in services.

    run --stack local            the controller (make up starts it; the stack's config names the namespace,
                                 cluster, chain and the keepers' secret words)
    induce SERVICE FAULT         a drill: every pod of SERVICE also behaves as fault FAULT (faults.py)
    clear SERVICE                end the drill's faults on SERVICE
    status                       the running stand-ins and their loopback addresses
    wait --stack local           until every workload pod has its stand-in and the oracle has a fresh price
                                 (make up ends with it, so `ops verify` right after passes)
"""

from __future__ import annotations

import argparse
import json
import os
import logging
import signal
import sys
from pathlib import Path

import yaml

from localcluster.standins.controller import ROOT, Controller, Paths, read_status, set_override


def _keeper_mnemonics(stack: str, project: Path):
    """tonsurance:keeperMnemonics of the stack, decrypted through the project's Pulumi CLI (backend and
    passphrase from the environment) and checked by config/ against the keeper addresses."""
    from pulumi import automation as auto

    from config.parse import parse_stack_config
    tools = ROOT / ".tools"  # the CLI this checkout's bootstrap built (a project copy may have none)
    workspace = auto.LocalWorkspace(
        work_dir=str(project), pulumi_command=auto.PulumiCommand(root=str(tools)),
        env_vars={"PATH": f"{tools / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                  "PULUMI_HOME": str(tools / "pulumi-home"), "PULUMI_SKIP_UPDATE_CHECK": "true"})
    values = auto.Stack.select(stack, workspace).get_all_config()
    raw = {k.split(":", 1)[1]: v.value for k, v in values.items() if k.startswith("tonsurance:")}
    secrets = {k.split(":", 1)[1] for k, v in values.items() if k.startswith("tonsurance:") and v.secret}
    return parse_stack_config(stack, raw, secrets).ton.keeper_mnemonics


def _stack_file(stack: str, project: Path) -> dict:
    """Plain values of Pulumi.<stack>.yaml: what the controller needs before the stack has ever been deployed
    ({} where the project has no such file: the caller then names namespace and cluster itself)."""
    path = project / f"Pulumi.{stack}.yaml"
    return yaml.safe_load(path.read_text())["config"] if path.exists() else {}


def _run(args, paths: Paths) -> int:
    if args.stack:
        project = paths.state.parent  # the project whose .state this is: its stack file, backend and chain
        plain = _stack_file(args.stack, project)
        if not (args.namespace or plain) or not (args.kubeconfig or plain):
            print(f"run: {project} has no Pulumi.{args.stack}.yaml: give --namespace and --kubeconfig", file=sys.stderr)
            return 2
        namespace = args.namespace or plain["tonsurance:namespace"]
        kubeconfig = Path(args.kubeconfig or project / plain["tonsurance:kubeconfig"])
        localnet = args.localnet or (str(project / plain["tonsurance:localnetPath"]) if plain else None)

        def keeper_words(index: int) -> str:
            # Read when a keeper pod starts (the stack exists by then), so rotated words apply too.
            mnemonics = _keeper_mnemonics(args.stack, project)
            if index >= len(mnemonics):
                raise ValueError(f"tonsurance:keeperMnemonics has no entry {index} (the keeper at "
                                 f"tonsurance:keeperAddresses[{index}]): the keeper stand-in cannot sign")
            return mnemonics[index].value
    else:
        if not (args.namespace and args.kubeconfig):
            print("run: give --stack, or --namespace and --kubeconfig", file=sys.stderr)
            return 2
        namespace, kubeconfig, localnet = args.namespace, Path(args.kubeconfig), args.localnet

        def keeper_words(index: int) -> str:
            if not args.keeper_keys_file:
                raise ValueError("no --keeper-keys-file: the keeper stand-ins cannot sign")
            return json.loads(Path(args.keeper_keys_file).read_text())[index]
    controller = Controller(kubeconfig, namespace, paths, localnet, keeper_words, args.keeper_interval)
    signal.signal(signal.SIGTERM, lambda *_: controller.stopping.set())
    logging.getLogger("standins").info("watching pods in %s (kubeconfig %s)", namespace, kubeconfig)
    controller.run()
    return 0


def _wait(args, paths: Paths) -> int:
    """Wait for the stand-ins of every running workload pod and for the pricing keeper's fresh price."""
    import time

    from pytoniq_core import Address

    from chain.client import ChainSettings
    from chain.connect import connect
    from contracts.pricing_oracle import MAX_STALENESS, PricingOracle
    from localcluster.standins.chainview import ORACLE
    from localcluster.standins.controller import NAME_LABEL, PART_OF
    from localcluster.standins.workloads import SERVICES
    from localcluster.kubeapi import KubeApi
    from localcluster.standins.controller import contract_addresses

    project = paths.state.parent
    plain = _stack_file(args.stack, project)
    namespace = plain["tonsurance:namespace"]
    kube = KubeApi(project / plain["tonsurance:kubeconfig"])
    deadline = time.monotonic() + args.timeout
    waiting = "the stand-in controller"
    while time.monotonic() < deadline:
        status = read_status(paths)
        pods = {p["metadata"]["name"] for p in kube.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=PART_OF)["items"]
                if (p["metadata"].get("labels") or {}).get(NAME_LABEL) in SERVICES
                and p.get("status", {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")}
        missing = pods - {s["pod"] for s in status.get("standins", [])}
        if status.get("namespace") != namespace or missing:
            waiting = f"stand-ins of {', '.join(sorted(missing)) or 'the pods'}"
        else:
            addresses = contract_addresses(kube, namespace)
            with connect(ChainSettings("localnet", localnet_path=str(project / plain["tonsurance:localnetPath"]))) as chain:
                last = PricingOracle(Address(addresses[ORACLE])).get_last_update(chain.run_get_method)
                if last and chain.now() - last < MAX_STALENESS:
                    print(f"standins: {len(pods)} stand-ins serve; the oracle's last price is {chain.now() - last} s old",
                          file=sys.stderr)
                    return 0
            waiting = "the pricing keeper's first price on chain"
        time.sleep(2)
    print(f"standins: still waiting for {waiting} after {args.timeout:.0f}s; see "
          f"{paths.own / 'logs'} and `python -m localcluster.standins status`", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster.standins", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".state",
                        help="the .state of the project whose stack runs (default: this checkout's)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="the controller")
    run.add_argument("--stack", help="read namespace, kubeconfig, chain and keeper keys from this stack's config")
    run.add_argument("--namespace")
    run.add_argument("--kubeconfig")
    run.add_argument("--localnet", help="the localnet chain file")
    run.add_argument("--keeper-keys-file", help="tests: a JSON list of keeper mnemonics (0: pricing, 1: bridge health)")
    run.add_argument("--keeper-interval", type=int, help="seconds between keeper updates (default 60)")
    for name in ("induce", "clear"):
        drill = sub.add_parser(name, help="set a drill's fault on a service" if name == "induce" else "end it")
        drill.add_argument("service")
        if name == "induce":
            drill.add_argument("fault")
        drill.add_argument("--namespace", default="tonsurance-local")
    sub.add_parser("status", help="the running stand-ins")
    wait = sub.add_parser("wait", help="until every workload pod has its stand-in and the oracle a fresh price")
    wait.add_argument("--stack", default="local")
    wait.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    paths = Paths(args.state_dir.resolve())
    if args.command == "run":
        return _run(args, paths)
    if args.command == "wait":
        return _wait(args, paths)
    if args.command in ("induce", "clear"):
        try:
            set_override(paths, args.namespace, args.service, getattr(args, "fault", None))
        except ValueError as err:
            print(f"{args.command}: {err}", file=sys.stderr)
            return 2
        return 0
    print(json.dumps(read_status(paths), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
