"""Signed backup manifests: who may write a backup's manifest is whoever may sign it, not whoever may write the bucket.

A signing key is named by a spec string:

- `kms:<key id, alias or ARN>` (testnet, mainnet): an asymmetric AWS KMS key (ECC_NIST_P256, components/aws.py);
  `kms:Sign` is granted to the backup role and the deploy role only, `kms:Verify` runs in KMS.
- `file:<path>` (the local stack): an HMAC-SHA256 key in a file readable by its owner only, made on first signing.

The signature covers the canonical JSON of the manifest (sorted keys, no spaces). `verify` raises
ManifestSignatureError for a missing, malformed or wrong signature, and never returns otherwise.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KMS_ALGORITHM = "ECDSA_SHA_256"  # the key spec ECC_NIST_P256 signs with this
HMAC_ALGORITHM = "HMAC_SHA_256"
# Where the local stack keeps its key: beside its state, outside its backup folder.
LOCAL_KEY_FILE = ".state/backup-signing.key"


def stack_signing_key(stack: str) -> str:
    """The spec of a public stack's signing key: the alias components/aws.py gives it."""
    return f"kms:alias/tonsurance-{stack}-backup-signing"


class ManifestSignatureError(Exception):
    pass


def canonical(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ManifestSigner:
    spec: str  # kms:<key> | file:<path>
    region: str | None = None  # KMS: default the key ARN's region, else boto3's

    def __post_init__(self) -> None:
        kind, _, key = self.spec.partition(":")
        if kind not in ("kms", "file") or not key:
            raise ValueError(f"a backup signing key must be kms:<key id, alias or ARN> or file:<path>, got {self.spec!r}")

    @property
    def kind(self) -> str:
        return self.spec.partition(":")[0]

    @property
    def key(self) -> str:
        return self.spec.partition(":")[2]

    def sign(self, manifest: dict[str, Any]) -> dict[str, str]:
        message = canonical(manifest)
        if self.kind == "kms":
            answer = self._kms().sign(KeyId=self.key, Message=message, MessageType="RAW", SigningAlgorithm=KMS_ALGORITHM)
            value, key_id = answer["Signature"], answer["KeyId"]
        else:
            value, key_id = hmac.new(self._local_key(create=True), message, hashlib.sha256).digest(), self.spec
        return {"algorithm": KMS_ALGORITHM if self.kind == "kms" else HMAC_ALGORITHM, "key": key_id,
                "value": base64.b64encode(value).decode()}

    def verify(self, manifest: dict[str, Any], signature: Any) -> None:
        if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
            raise ManifestSignatureError("it is not signed")
        try:
            value = base64.b64decode(signature["value"], validate=True)
        except ValueError:
            raise ManifestSignatureError("its signature is not base64") from None
        message = canonical(manifest)
        if self.kind == "file":
            if signature.get("algorithm") != HMAC_ALGORITHM or not hmac.compare_digest(
                    value, hmac.new(self._local_key(create=False), message, hashlib.sha256).digest()):
                raise ManifestSignatureError(f"its signature is not one of the key {self.spec}")
            return
        if signature.get("algorithm") != KMS_ALGORITHM:
            raise ManifestSignatureError(f"its signature algorithm {signature.get('algorithm')!r} is not {KMS_ALGORITHM}")
        kms = self._kms()
        try:
            valid = kms.verify(KeyId=self.key, Message=message, MessageType="RAW", Signature=value,
                               SigningAlgorithm=KMS_ALGORITHM)["SignatureValid"]
        except kms.exceptions.KMSInvalidSignatureException:
            valid = False
        if not valid:
            raise ManifestSignatureError(f"its signature is not one of the KMS key {self.key}")

    def _kms(self):
        import boto3  # only the public stacks sign with KMS

        region = self.region or (self.key.split(":")[3] if self.key.startswith("arn:") else None)
        return boto3.client("kms", region_name=region)

    def _local_key(self, create: bool) -> bytes:
        path = Path(self.key)
        if create and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it meanwhile
            else:
                with os.fdopen(fd, "wb") as file:
                    file.write(secrets.token_bytes(32))
        try:
            return path.read_bytes()
        except OSError as error:
            raise ManifestSignatureError(f"the signing key {path} cannot be read ({error.strerror})") from None
