"""Reading raw config values: `Reader` by top-level key (remembering which were consulted, so parse can
name an unknown key), `Section` for the keys whose value is a JSON object (one unknown-key check, typed
sub-keys named `section.key` in errors)."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from config.types import ConfigError, SecretValue

_KINDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}


class Reader:
    """Reads raw config strings by key, remembering which keys were consulted."""

    def __init__(self, raw: Mapping[str, str], secret_keys: set[str]):
        self.raw = raw
        self.secret_keys = secret_keys
        self.seen: set[str] = set()

    def optional(self, key: str) -> str | None:
        self.seen.add(key)
        value = self.raw.get(key)
        return None if value is None or value == "" else value

    def required(self, key: str, expected: str) -> str:
        value = self.optional(key)
        if value is None:
            raise ConfigError(key, f"is required: {expected}")
        return value

    def secret(self, key: str, expected: str) -> SecretValue:
        value = self.optional(key)
        if value is None:
            raise ConfigError(key, f"is required and must be a secret: {expected} "
                                   f"(set it with `pulumi config set --secret {key}`)")
        if key not in self.secret_keys:
            raise ConfigError(key, "is stored in plaintext but must be a secret: "
                                   f"remove it and set it with `pulumi config set --secret {key}`")
        return SecretValue(value)

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.optional(key)
        if value is None:
            if default is None:
                raise ConfigError(key, "is required: an integer")
            return default
        try:
            return int(value)
        except ValueError:
            raise ConfigError(key, f"must be an integer, got {value!r}") from None

    def boolean(self, key: str, default: bool) -> bool:
        value = self.optional(key)
        if value is None:
            return default
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(key, f"must be true or false, got {value!r}")

    def structured(self, key: str, kind: type, example: str) -> Any:
        value = self.optional(key)
        if value is None:
            return None
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, kind):
            raise ConfigError(key, f"must be a {kind.__name__}, for example {example}")
        return parsed

    def section(self, key: str, known: Iterable[str], example: str) -> Section:
        """The object at `key` ({} when unset) with its sub-keys checked against `known`."""
        return Section(key, self.structured(key, dict, example) or {}, known)


class Section:
    """A config key whose value is an object: every sub-key must be known, each is read with its type."""

    def __init__(self, key: str, raw: Mapping[str, Any], known: Iterable[str]):
        self.key, self.raw, self.known = key, raw, tuple(known)
        unknown = sorted(set(raw) - set(self.known))
        if unknown:
            raise ConfigError(key, f"has unknown keys {', '.join(unknown)}; known: {', '.join(sorted(self.known))}")

    def __contains__(self, sub: str) -> bool:
        return sub in self.raw

    def name(self, sub: str) -> str:
        return f"{self.key}.{sub}"

    def get(self, sub: str, kind: type, default: Any = None, needed: str | None = None, where: str = "") -> Any:
        """raw[sub] of type `kind`, else `default`; `needed` says what it is when there is no default (and
        `where`, e.g. " on mainnet", when it is needed)."""
        value = self.raw.get(sub, default)
        if value is None and needed:
            raise ConfigError(self.name(sub), f"is required{where}: {needed}")
        numeric = kind is float and isinstance(value, int)
        if value is not None and (isinstance(value, bool) != (kind is bool) or not (isinstance(value, kind) or numeric)):
            raise ConfigError(self.name(sub), f"must be {_KINDS[kind]}, got {value!r}")
        return value

    def bounded(self, sub: str, kind: type, default: float, low: float, high: float) -> Any:
        value = self.get(sub, kind, default)
        if not low <= value <= high:
            raise ConfigError(self.name(sub), f"must be between {low} and {high}, got {value!r}")
        return value
