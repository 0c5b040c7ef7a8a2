"""Typed, validated stack configuration: every key of the `tonsurance` namespace parsed into one frozen
dataclass tree, every rule checked before the program registers a single resource. An error names the key
and says what is expected; it never repeats a secret value.

- types.py: StackConfig and its sections, SecretValue, SecretReference, ConfigError;
- reader.py: raw values by key, and object sections (`tonsurance:services`, ...) with one unknown-key check;
- parse.py, services.py: pure parsing, raw strings in, dataclasses out (unit-tested without the engine);
- rules.py: the rules the policy pack and preflight share with parsing;
- loader.py: the values from the Pulumi runtime or a stack, and the files they name.
"""

from config.loader import load_stack_config, read_stack_config, stack_secrets_provider
from config.parse import parse_stack_config
from config.rules import check_image, check_secrets_provider, deployer_address_conflicts, role_conflicts
from config.types import (
    NAMESPACE, PLATFORM_CHARTS, AwsConfig, ConfigError, DatabaseConfig, KubernetesConfig, MonitoringConfig,
    OpsConfig, PlatformConfig, RolloutConfig, SecretReference, SecretValue, ServicesConfig, StackConfig, TonConfig,
)

__all__ = [
    "NAMESPACE", "PLATFORM_CHARTS", "AwsConfig", "ConfigError", "DatabaseConfig", "KubernetesConfig",
    "MonitoringConfig", "OpsConfig", "PlatformConfig", "RolloutConfig", "SecretReference", "SecretValue",
    "ServicesConfig", "StackConfig", "TonConfig", "check_image", "check_secrets_provider",
    "deployer_address_conflicts", "load_stack_config", "parse_stack_config", "read_stack_config", "role_conflicts",
    "stack_secrets_provider",
]
