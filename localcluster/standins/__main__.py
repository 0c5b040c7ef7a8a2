"""`python -m localcluster.standins run|induce|clear|status`: the local stack's stand-in services.

    run --stack local            the controller (make up starts it; the stack's config names the namespace,
                                 cluster, chain and the keepers' secret words)
    induce SERVICE FAULT         a drill: every pod of SERVICE also behaves as fault FAULT (faults.py)
    clear SERVICE                end the drill's faults on SERVICE
    status                       the running stand-ins and their loopback addresses
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path

import yaml

from localcluster.standins.controller import ROOT, Controller, Paths, read_status, set_override


def _stack_settings(stack: str):
    """The stack's config as the program validates it (secrets decrypted through the Pulumi CLI, with the
    backend and passphrase of the environment), read from the project directory as `pulumi up` does."""
    from ops.checks import stack_config
    from ops.stack import open_stack
    with contextlib.chdir(ROOT):
        return stack_config(open_stack(stack))


def _stack_file(stack: str) -> dict:
    """Plain values of Pulumi.<stack>.yaml: what the controller needs before the stack has ever been deployed."""
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def _run(args, paths: Paths) -> int:
    from localcluster.standins.kube import Kube
    if args.stack:
        plain = _stack_file(args.stack)
        namespace = args.namespace or plain["tonsurance:namespace"]
        kubeconfig = Path(args.kubeconfig or ROOT / plain["tonsurance:kubeconfig"])
        localnet = args.localnet or str(ROOT / plain["tonsurance:localnetPath"])

        def keeper_words(index: int) -> str:
            # Read when a keeper pod starts (the stack exists by then), so rotated words apply too.
            mnemonics = _stack_settings(args.stack).ton.keeper_mnemonics
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
    controller = Controller(Kube(kubeconfig), namespace, paths, localnet, keeper_words, args.keeper_interval)
    signal.signal(signal.SIGTERM, lambda *_: controller.stopping.set())
    logging.getLogger("standins").info("watching pods in %s through %s", namespace, controller.kube.server)
    controller.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster.standins", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".state", help="the checkout's .state")
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    paths = Paths(args.state_dir.resolve())
    if args.command == "run":
        return _run(args, paths)
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
