"""The mainnet stack's TON part, for the policy pack through the real engine (test_policy_pack.py): the stack
config read and checked as the program reads it, and the contracts component with its real providers. The rest
of the program registers AWS resources, whose provider plugin scripts/bootstrap cannot always install."""
import pulumi

from components.contracts import TonsuranceContracts, contracts_args
from config import ConfigError, load_stack_config

try:
    cfg = load_stack_config()
except ConfigError as err:
    raise pulumi.RunError(str(err)) from None


def unprotected_oracle(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """The mistake the pack must stop: one contract registered without protect (stack config policyTest:unprotect)."""
    if args.name != "contracts-pricing-oracle":
        return None
    return pulumi.ResourceTransformationResult(args.props, pulumi.ResourceOptions.merge(
        args.opts, pulumi.ResourceOptions(protect=False, retain_on_delete=False)))


if pulumi.Config("policyTest").get_bool("unprotect"):
    pulumi.runtime.register_stack_transformation(unprotected_oracle)

TonsuranceContracts("contracts", contracts_args(cfg))
