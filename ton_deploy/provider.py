"""What the contract, shard-batch and deployment providers share: the check tail (deployer inputs), the
replace-key diff, the recorded inputs, a delete that never touches the chain, and the Resource that turns
typed args into inputs with the mnemonic kept secret."""
from __future__ import annotations

from typing import Any, Callable, ClassVar

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, DiffResult, Resource, ResourceProvider

from ton_deploy.deployer import deployer_failures
from ton_deploy.mnemonic import secret_mnemonic_inputs


class TonProvider(ResourceProvider):
    """A TON resource's provider. Subclasses name their keys and check their contracts; create and read
    are theirs. The inputs and outputs keep the shape of state written before ton_deploy/ existed."""

    REPLACE_KEYS: ClassVar[tuple[str, ...]] = ()   # a change to any of these is other contracts: replace
    RECORDED_KEYS: ClassVar[tuple[str, ...]] = ()  # inputs kept in the outputs: what diff and read need
    INVALID_INPUTS: ClassVar[tuple[str, str]] = ("", "invalid inputs")  # (property, what) of a malformed input
    LEFT_ON_CHAIN: ClassVar[str] = "its contracts stay on chain"  # what delete says it leaves

    def check_contracts(self, news: dict[str, Any]) -> list[CheckFailure]:
        """What is wrong with the contract inputs; may raise KeyError, ValueError, TypeError or IndexError."""
        return []

    def describe(self, props: dict[str, Any]) -> str:
        """The resource in messages, e.g. "PricingOracle contract 0:ab..."."""
        raise NotImplementedError

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        try:
            failures += self.check_contracts(news)
        except (KeyError, ValueError, TypeError, IndexError) as error:
            failures.append(CheckFailure(self.INVALID_INPUTS[0], f"{self.INVALID_INPUTS[1]}: {error}"))
        return CheckResult(news, failures + deployer_failures(news))

    def compared(self, props: dict[str, Any], key: str) -> Any:
        """The value of a replace key as diff compares it (the engine hands numbers over as floats)."""
        return props["chain"]["network"] if key == "network" else props.get(key)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in self.REPLACE_KEYS if self.compared(olds, key) != self.compared(news, key)]
        return DiffResult(changes=bool(replaces), replaces=replaces, stables=[], delete_before_replace=False)

    def recorded(self, props: dict[str, Any]) -> dict[str, Any]:
        """The inputs kept in the outputs. Never the mnemonic."""
        return {key: props[key] for key in self.RECORDED_KEYS}

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Contracts cannot be removed from TON: dropping the resource leaves every contract on chain."""
        pulumi.log.info(f"{self.describe(props)} removed from the stack; {self.LEFT_ON_CHAIN} "
                        "(delete never sends anything)")


def positive_value(value: Any, key: str = "deploy_value", what: str = "") -> list[CheckFailure]:
    """A deploy value must be a positive number of nanotons."""
    return [] if int(value or 0) > 0 else [CheckFailure(key, f"{what}deploy_value must be a positive number of nanotons")]


class TonResource(Resource):
    """A TON resource: `inputs_of(args)` as the provider receives them, the deployer's words (when given
    rather than referenced) secret in the inputs and in the outputs the engine records."""

    provider_class: ClassVar[type[TonProvider]]
    inputs_of: ClassVar[Callable[[Any], dict[str, Any]]]
    secret_inputs: ClassVar[tuple[str, ...]] = ()   # other inputs kept secret when set (the local admin's words)

    def __init__(self, name: str, args: Any, opts: pulumi.ResourceOptions | None = None):
        props, secret = secret_mnemonic_inputs(type(self).inputs_of(args))
        hidden = [key for key in self.secret_inputs if props.get(key) is not None]
        if hidden:
            props = {**props, **{key: pulumi.Output.secret(props[key]) for key in hidden}}
            secret = pulumi.ResourceOptions.merge(secret, pulumi.ResourceOptions(additional_secret_outputs=hidden))
        super().__init__(self.provider_class(), name, props, pulumi.ResourceOptions.merge(opts, secret))
