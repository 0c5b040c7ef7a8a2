"""The Pulumi resource plugins the program can register, derived from the installed SDK packages.

Every Pulumi provider SDK package ships a `pulumi-plugin.json` beside its code naming the resource plugin it
drives and the version it was generated for (pulumi_kubernetes: kubernetes 4.25.0, pulumi_aws: aws 7.16.0).
With automatic plugin acquisition off (scripts/env.sh, the workflow), each of those must be in PULUMI_HOME
before the engine registers a resource of it. Run with the project's virtualenv:

    .venv/bin/python scripts/provider_plugins.py list       # name version, one per line
    .venv/bin/python scripts/provider_plugins.py missing    # the ones PULUMI_HOME lacks (scripts/bootstrap)
    .venv/bin/python scripts/provider_plugins.py check      # exit 1 naming each missing one (the workflow)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from importlib.metadata import Distribution, distributions
from pathlib import Path

MANIFEST = "pulumi-plugin.json"


@dataclass(frozen=True, order=True)
class Plugin:
    name: str
    version: str
    package: str  # the SDK package that pins it

    def directory(self, pulumi_home: Path) -> Path:
        """Where the engine looks for it (PULUMI_HOME/plugins/resource-NAME-vVERSION)."""
        return pulumi_home / "plugins" / f"resource-{self.name}-v{self.version}"

    def installed(self, pulumi_home: Path) -> bool:
        binary = self.directory(pulumi_home) / f"pulumi-resource-{self.name}"
        # An interrupted install leaves a `.partial` marker beside the folder; the engine ignores that folder.
        partial = self.directory(pulumi_home).with_name(self.directory(pulumi_home).name + ".partial")
        return binary.is_file() and os.access(binary, os.X_OK) and not partial.exists()


def _plugin_of(dist: Distribution) -> Plugin | None:
    """The resource plugin a package's top-level pulumi-plugin.json pins, as the engine reads it: `resource`
    defaults to true, `name` to the package name without its `pulumi_` prefix, `version` to the package's."""
    for file in dist.files or ():
        if file.name != MANIFEST or len(file.parts) != 2:
            continue
        manifest = json.loads(file.read_text())
        if not manifest.get("resource", True):
            return None
        package = dist.metadata["Name"]
        default_name = package.lower().replace("_", "-").removeprefix("pulumi-")
        return Plugin(manifest.get("name") or default_name, str(manifest.get("version") or dist.version).lstrip("v"),
                      package)
    return None


def required_plugins() -> list[Plugin]:
    """Every resource plugin pinned by a package installed in this interpreter's environment, sorted."""
    found = {plugin for dist in distributions() if (plugin := _plugin_of(dist)) is not None}
    return sorted(found)


def missing_plugins(pulumi_home: Path) -> list[Plugin]:
    return [plugin for plugin in required_plugins() if not plugin.installed(pulumi_home)]


def default_pulumi_home() -> Path:
    return Path(os.environ.get("PULUMI_HOME") or Path(__file__).resolve().parents[1] / ".tools" / "pulumi-home")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="provider_plugins.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "missing", "check"])
    parser.add_argument("--pulumi-home", type=Path, default=None,
                        help="the Pulumi home to look in (default: $PULUMI_HOME, else .tools/pulumi-home)")
    args = parser.parse_args(argv)
    home = args.pulumi_home or default_pulumi_home()
    if args.command == "list":
        for plugin in required_plugins():
            print(plugin.name, plugin.version)
        return 0
    missing = missing_plugins(home)
    if args.command == "missing":
        for plugin in missing:
            print(plugin.name, plugin.version)
        return 0
    annotation = "::error::" if os.environ.get("GITHUB_ACTIONS") == "true" else ""  # shown on the run's page
    for plugin in missing:
        print(f"{annotation}provider plugin {plugin.name} {plugin.version} (pinned by {plugin.package}) is not "
              f"installed in {plugin.directory(home)}: scripts/bootstrap installs it (downloaded plugins need "
              f"Pulumi's plugin releases to be reachable), or `pulumi plugin install resource {plugin.name} "
              f"{plugin.version}`", file=sys.stderr)
    if not missing:
        print("provider plugins installed: " + ", ".join(f"{p.name} {p.version}" for p in required_plugins()))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
