"""Fetch the TON global network config, check it is the pinned network's, write the file the stack names.

    python -m ops network-config --network mainnet            # writes Pulumi.mainnet.yaml's liteserverConfig
    python -m ops network-config --network testnet --url URL  # another source of the same network's file

The file comes from the official URL of the network (`--url` overrides it) and must be that network's: its
zero state (masterchain block 0: workchain, shard, seqno, root hash and file hash) equals the pins in
chain/liteserver.py and here, and it lists liteservers the client can use. Only then is it written, whole
(a temporary file beside it, fsynced, renamed over it), to the path the stack names in
`tonsurance:liteserverConfig` (`--stack`, default the network's own stack file), or to `--out`. On any
failure the previous file stays as it was. The liteserver list changes over time, so the deploy workflow
fetches it before every preflight.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import yaml

from chain.client import ConfigError
from chain.liteserver import ZERO_STATE_ROOT_HASHES, load_network_config
from ops.stack import ROOT

STACK_REQUIRED = False  # `--stack` is optional here: the network names its stack file by default

OFFICIAL_URLS = {
    "mainnet": "https://ton.org/global-config.json",
    "testnet": "https://ton.org/testnet-global.config.json",
}
# The zero state's file hash, beside its root hash (chain/liteserver.py): both name the network's block 0.
ZERO_STATE_FILE_HASHES = {
    "mainnet": "XplPz01CXAps5qeSWUtxcyBfdAo5zVb1N979KLSKD24=",  # pragma: allowlist secret (public block hash)
    "testnet": "Z+IKwYS54DmmJmesw/nAD5DzWadnOCMzee+kdgSYDOg=",  # pragma: allowlist secret (public block hash)
}
MASTERCHAIN = {"workchain": -1, "shard": -9223372036854775808, "seqno": 0}
MAX_BYTES = 4 * 1024 * 1024       # the real files are about 30 KB; anything this large is not one
TIMEOUT_SECONDS = 30


class NetworkConfigError(Exception):
    """The config could not be fetched, is not the network's, or could not be written."""


def fetch(url: str, timeout: float = TIMEOUT_SECONDS) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise NetworkConfigError(f"--url must be an http(s) URL, got {url!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "tonsurance-deploy network-config"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_BYTES + 1)
            announced = response.headers.get("Content-Length")
    except urllib.error.HTTPError as error:
        raise NetworkConfigError(f"{url} answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:  # unreachable, timed out, cut short (IncompleteRead)
        reason = getattr(error, "reason", error)
        raise NetworkConfigError(f"could not download {url}: {reason}") from None
    if len(body) > MAX_BYTES:
        raise NetworkConfigError(f"{url} sent more than {MAX_BYTES} bytes: not a TON global network config")
    if announced and announced.isdigit() and len(body) < int(announced):
        raise NetworkConfigError(f"could not download {url}: cut short after {len(body)} of {announced} bytes")
    return body


def check(body: bytes, network: str, source: str) -> dict[str, Any]:
    """The parsed config when it is `network`'s and usable; NetworkConfigError naming what is wrong otherwise."""
    try:
        config = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NetworkConfigError(f"{source} is not complete JSON ({error}): not a TON global network config, "
                                 "or cut short") from None
    if not isinstance(config, dict):
        raise NetworkConfigError(f"{source} is JSON but not an object: not a TON global network config")
    validator = config.get("validator")
    zero_state = validator.get("zero_state") if isinstance(validator, dict) else None
    if not isinstance(zero_state, dict):
        raise NetworkConfigError(f"{source} has no validator.zero_state: not a TON global network config")
    root = zero_state.get("root_hash")
    other = next((name for name, pinned in ZERO_STATE_ROOT_HASHES.items() if pinned == root and name != network), None)
    if other:
        raise NetworkConfigError(f"{source} is the config of {other}, not {network} (zero state root hash {root})")
    expected = {**MASTERCHAIN, "root_hash": ZERO_STATE_ROOT_HASHES[network], "file_hash": ZERO_STATE_FILE_HASHES[network]}
    wrong = [f"{key} {zero_state.get(key)!r} (pinned {value!r})" for key, value in expected.items()
             if zero_state.get(key) != value]
    if wrong:
        raise NetworkConfigError(f"{source} has another zero state than {network}'s: " + ", ".join(wrong))
    _check_liteservers(config.get("liteservers"), source)
    return config


def _check_liteservers(liteservers: Any, source: str) -> None:
    if not isinstance(liteservers, list) or not liteservers:
        raise NetworkConfigError(f"{source} lists no liteservers")
    for i, server in enumerate(liteservers):
        where = f"{source}: liteservers[{i}]"
        if not isinstance(server, dict):
            raise NetworkConfigError(f"{where} is not an object")
        if not isinstance(server.get("ip"), int) or not isinstance(server.get("port"), int) \
                or not 0 < server["port"] < 65536:
            raise NetworkConfigError(f"{where} has no usable ip and port")
        key = (server.get("id") or {}).get("key") if isinstance(server.get("id"), dict) else None
        try:
            valid_key = isinstance(key, str) and len(base64.b64decode(key, validate=True)) == 32
        except binascii.Error:
            valid_key = False
        if not valid_key:
            raise NetworkConfigError(f"{where} has no ed25519 public key (id.key, 32 bytes in base64)")


def write_atomically(path: Path, body: bytes, accept: Callable[[Path], None] = lambda _: None) -> None:
    """Replace `path` with `body` in one rename, once `accept(temporary file)` returned: a reader sees the old
    file or the new one, never a part, and a refused or interrupted write leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        accept(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def stack_target(stack: str, network: str, work_dir: Path = ROOT) -> Path:
    """The file `Pulumi.<stack>.yaml` names in tonsurance:liteserverConfig, checked to be a `network` stack."""
    settings = work_dir / f"Pulumi.{stack}.yaml"
    try:
        config = (yaml.safe_load(settings.read_text()) or {}).get("config") or {}
    except FileNotFoundError:
        raise NetworkConfigError(f"{settings} does not exist: name the stack with --stack or the file with --out") from None
    except yaml.YAMLError as error:
        raise NetworkConfigError(f"{settings} is not readable YAML: {error}") from None
    if config.get("tonsurance:network") != network:
        raise NetworkConfigError(f"stack {stack} is a {config.get('tonsurance:network')!r} stack ({settings}), "
                                 f"not {network}")
    target = config.get("tonsurance:liteserverConfig")
    if not target:
        raise NetworkConfigError(f"{settings} sets no tonsurance:liteserverConfig: nothing names the file to write")
    return work_dir / target


def update(network: str, target: Path, url: str | None = None, timeout: float = TIMEOUT_SECONDS) -> str:
    """Fetch, check and write; returns what happened in one line."""
    url = url or OFFICIAL_URLS[network]
    body = fetch(url, timeout)
    config = check(body, network, url)
    unchanged = target.exists() and target.read_bytes() == body
    if not unchanged:
        write_atomically(target, body, lambda written: _loads_as(written, network))
    state = "unchanged" if unchanged else "written"
    return (f"{target}: {state}, {network} (zero state {ZERO_STATE_ROOT_HASHES[network]}), "
            f"{len(config['liteservers'])} liteservers, from {url}")


def _loads_as(path: Path, network: str) -> None:
    """The file as written is what config.py and the chain client accept for `network`."""
    try:
        load_network_config(str(path), network)
    except ConfigError as error:
        raise NetworkConfigError(str(error)) from None


# ---- the command -----------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", required=True, choices=sorted(OFFICIAL_URLS), help="the TON network")
    parser.add_argument("--url", help="where to download the config (default: the network's official URL)")
    parser.add_argument("--out", type=Path, help="the file to write (default: the stack's tonsurance:liteserverConfig)")


def run(args: argparse.Namespace) -> int:
    try:
        target = args.out or stack_target(args.stack or args.network, args.network)
        print(update(args.network, target, args.url))
    except NetworkConfigError as error:
        print(f"network-config: {error}; the previous file, if any, is unchanged", file=sys.stderr)
        return 1
    return 0
