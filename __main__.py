"""Tonsurance Deploy: the composition root. Read and validate config, build components, export outputs."""

import pulumi

from components.platform import Platform, PlatformArgs
from config import ConfigError, load_stack_config

try:
    cfg = load_stack_config()  # validates everything before any resource is registered
except ConfigError as err:
    raise pulumi.RunError(str(err)) from None

platform = Platform("platform", PlatformArgs(
    namespace=cfg.kubernetes.namespace,
    render_manifests_to=cfg.kubernetes.render_manifests_to,
    labels={"tonsurance.io/network": cfg.ton.network},
))

pulumi.export("network", cfg.ton.network)
pulumi.export("shard_count", cfg.ton.shard_count)
pulumi.export("admin_address", cfg.ton.admin_address)
pulumi.export("keeper_addresses", list(cfg.ton.keeper_addresses))
pulumi.export("namespace", platform.namespace)
pulumi.export("manifests_dir", platform.manifests_dir)
