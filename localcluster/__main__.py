"""`scripts/cluster start|stop|status|kubeconfig|delete [--name NAME]`: the checkout's local cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localcluster.cluster import Cluster, ClusterError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/cluster", description=__doc__)
    parser.add_argument("command", choices=("start", "stop", "status", "kubeconfig", "delete"))
    parser.add_argument("--name", default="local", help="cluster name (default: local, the local stack's)")
    parser.add_argument("--state-dir", type=Path,
                        help="where the cluster lives (default: .state/cluster/NAME of this checkout)")
    args = parser.parse_args(argv)
    cluster = (Cluster(args.name, args.state_dir.resolve()) if args.state_dir
               else Cluster.for_checkout(args.name))
    try:
        if args.command == "start":
            for action in cluster.start():
                print(f"cluster {args.name}: {action}", file=sys.stderr)
            print(f"cluster {args.name}: ready at {cluster.api_server_url()}", file=sys.stderr)
        elif args.command == "stop":
            cluster.stop()
        elif args.command == "delete":
            cluster.delete()
        elif args.command == "kubeconfig":
            if not cluster.kubeconfig.exists():
                raise ClusterError(f"cluster {args.name} has no kubeconfig yet: run scripts/cluster start")
            print(cluster.kubeconfig)
        else:
            healthy, lines = cluster.status()
            print("\n".join(lines))
            return 0 if healthy else 1
    except ClusterError as err:
        print(f"scripts/cluster: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
