"""The deployer mnemonic as the TON providers receive it: the words (a Pulumi secret) or a reference.

A reference (`tonsurance:deployerMnemonicSecretId` + `tonsurance:awsRegion`) is an AWS Secrets Manager id.
The resource's inputs then hold only `{"secret_id", "region"}`; `resolve_deployer_mnemonic` reads the
words inside the provider call that signs (create), so they never enter Pulumi state, not even encrypted,
nor the program's process. boto3's default credential chain and endpoint settings apply (AWS_PROFILE,
instance or pod role; AWS_ENDPOINT_URL for an S3/Secrets Manager-compatible endpoint such as moto in tests).
Errors name the secret id and region and never repeat its value.
"""
from __future__ import annotations

from typing import Any

import pulumi
from pytoniq_core.crypto.keys import mnemonic_is_valid

from config.types import SecretReference


class DeployerMnemonicError(Exception):
    """The deployer mnemonic could not be read from Secrets Manager (the message holds no secret)."""


def mnemonic_inputs(source: pulumi.Input[str] | SecretReference) -> dict[str, Any]:
    """The resource inputs for a mnemonic given in config or named by a Secrets Manager reference."""
    if isinstance(source, SecretReference):
        return {"deployer_mnemonic": None,
                "deployer_mnemonic_ref": {"secret_id": source.secret_id, "region": source.region}}
    return {"deployer_mnemonic": source, "deployer_mnemonic_ref": None}


def secret_mnemonic_inputs(props: dict[str, Any]) -> tuple[dict[str, Any], pulumi.ResourceOptions]:
    """Mark the words (when given) secret in the inputs and in the outputs the engine records."""
    if props.get("deployer_mnemonic") is None:
        return props, pulumi.ResourceOptions()
    return ({**props, "deployer_mnemonic": pulumi.Output.secret(props["deployer_mnemonic"])},
            pulumi.ResourceOptions(additional_secret_outputs=["deployer_mnemonic"]))


def reference_failure(props: dict[str, Any]) -> str | None:
    """What is wrong with the mnemonic inputs (for a provider's check), or None."""
    ref = props.get("deployer_mnemonic_ref")
    if ref is None:
        return None if props.get("deployer_mnemonic") else "neither deployer_mnemonic nor deployer_mnemonic_ref is set"
    if not isinstance(ref, dict) or not ref.get("secret_id") or not ref.get("region"):
        return "deployer_mnemonic_ref needs a secret_id and a region"
    return None


def resolve_deployer_mnemonic(props: dict[str, Any]) -> str:
    """The deployer's words: from the secret input, or fetched from Secrets Manager by reference."""
    ref = props.get("deployer_mnemonic_ref")
    if ref is None:
        return props["deployer_mnemonic"]
    words = fetch_secret_string(ref["secret_id"], ref["region"])
    if len(words.split()) != 24 or not mnemonic_is_valid(words.split()):
        raise DeployerMnemonicError(f"Secrets Manager secret {ref['secret_id']!r} in {ref['region']} does not hold a "
                                    "valid 24-word TON mnemonic (the words separated by spaces, nothing else)")
    return words


def fetch_secret_string(secret_id: str, region: str, what: str = "the deployer mnemonic") -> str:
    import boto3  # imported here: stacks that hold the words never need it
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    where = f"Secrets Manager secret {secret_id!r} in {region}"
    try:
        client = boto3.session.Session().client("secretsmanager", region_name=region)  # fresh: no cached credentials
        value = client.get_secret_value(SecretId=secret_id)
    except NoCredentialsError:
        raise DeployerMnemonicError(f"cannot read {what} from {where}: no AWS credentials "
                                    "(set AWS_PROFILE or run with a role that may read it)") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        hint = {"ResourceNotFoundException": "it does not exist or has no value yet: create it and set its value "
                                             "(README, Security)",
                "AccessDeniedException": "the AWS identity running Pulumi may not read it "
                                         "(secretsmanager:GetSecretValue)",
                "DecryptionFailure": "its KMS key cannot decrypt it for this identity"}.get(code, code)
        raise DeployerMnemonicError(f"cannot read {what} from {where}: {hint}") from None
    except BotoCoreError as error:  # endpoint unreachable, bad region, ...
        raise DeployerMnemonicError(f"cannot read {what} from {where}: "
                                    f"{type(error).__name__}: {error}") from None
    words = value.get("SecretString")
    if not words:
        raise DeployerMnemonicError(f"{where} holds no string value: set the 24 words with "
                                    f"`aws secretsmanager put-secret-value --secret-id {secret_id} --secret-string ...`")
    return words
