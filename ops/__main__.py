"""`python -m ops <command> --stack <s>`: one tool from pre-flight to rollback (README: "Mainnet, step by step")."""
from __future__ import annotations

import argparse
import importlib
import sys

# command -> module of this package with add_arguments(parser) and run(args) -> exit code
COMMANDS = {"preflight": "ops.preflight", "verify": "ops.verify", "record": "ops.records", "rollback": "ops.rollback",
            "network-config": "ops.network_config", "multisig": "ops.multisig", "unlock": "ops.locks", "watch": "ops.watch"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=module.__doc__.splitlines()[0], description=module.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        # A module with SUBCOMMANDS takes --stack after its subcommand; with STACK_REQUIRED = False, optionally
        # (network-config defaults it).
        if not hasattr(module, "SUBCOMMANDS"):
            sub.add_argument("--stack", required=getattr(module, "STACK_REQUIRED", True),
                             help="the stack's name (local, testnet, mainnet)")
        module.add_arguments(sub)
        sub.set_defaults(module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.module.run(args)


if __name__ == "__main__":
    sys.exit(main())
