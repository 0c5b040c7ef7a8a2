"""The Tonsurance policy pack: every rule of policy/rules.py as a stack policy, mandatory unless the run's
policy config says otherwise (policy/advisory.json for testnet and local runs; docs/policy.md)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's modules (config, chain, policy)

from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationPolicy  # noqa: E402

from policy.rules import RULES, Resource, Rule  # noqa: E402


def stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args, report_violation) -> None:
        for urn, message in rule.check([Resource.from_policy(r) for r in args.resources]):
            report_violation(message, urn)

    return StackValidationPolicy(name=rule.name, description=rule.description, validate=validate)


PolicyPack("tonsurance", [stack_policy(rule) for rule in RULES], enforcement_level=EnforcementLevel.MANDATORY)
