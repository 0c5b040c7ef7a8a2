"""`python -m ops network-config`: the TON global config downloaded from a real HTTP server on 127.0.0.1,
checked against the pinned zero states, and written whole or not at all."""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.loader import _check_network_config
from chain.liteserver import ZERO_STATE_ROOT_HASHES
from ops import network_config
from ops.stack import ROOT
from tests.local_http import answer, cut_short, local_server

PREVIOUS = b'{"previous": "file"}\n'


def global_config(network: str, **zero_state_changes) -> dict:
    """A global config shaped like the official files, with the network's real zero state."""
    zero = {"workchain": -1, "shard": -9223372036854775808, "seqno": 0,
            "root_hash": ZERO_STATE_ROOT_HASHES[network], "file_hash": network_config.ZERO_STATE_FILE_HASHES[network],
            **zero_state_changes}
    return {
        "@type": "config.global",
        "dht": {"@type": "dht.config.global", "k": 6, "a": 3, "static_nodes": {"@type": "dht.nodes", "nodes": []}},
        "liteservers": [{"ip": 2130706433 + i, "port": 40000 + i,
                         "id": {"@type": "pub.ed25519", "key": base64.b64encode(bytes([i + 1]) * 32).decode()}}
                        for i in range(3)],
        "validator": {"@type": "validator.config.global", "zero_state": zero, "init_block": zero, "hardforks": []},
    }


def encoded(config: dict) -> bytes:
    return json.dumps(config, indent=2).encode()


def run_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops", "network-config", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


def test_a_good_file_is_written_as_served_and_passes_config_validation(tmp_path):
    body = encoded(global_config("mainnet"))
    target = tmp_path / "config" / "mainnet-global.config.json"
    with local_server({"/global-config.json": answer(200, body)}) as server:
        first = run_command("--network", "mainnet", "--url", f"{server.url}/global-config.json", "--out", str(target))
        second = run_command("--network", "mainnet", "--url", f"{server.url}/global-config.json", "--out", str(target))
    assert first.returncode == 0, first.stderr
    assert target.read_bytes() == body
    assert "written, mainnet" in first.stdout and "3 liteservers" in first.stdout
    assert second.returncode == 0 and "unchanged" in second.stdout
    _check_network_config(str(target), "mainnet")  # what `pulumi up` will check: no error
    assert leftovers(target.parent) == []


BAD_ANSWERS = {
    "testnet's file for mainnet": (answer(200, encoded(global_config("testnet"))), "is the config of testnet, not mainnet"),
    "garbage": (answer(200, b"<html>Service temporarily unavailable</html>", "text/html"), "is not complete JSON"),
    "a truncated file": (answer(200, encoded(global_config("mainnet"))[:700]), "is not complete JSON"),
    "a body cut short by the server": (cut_short(encoded(global_config("mainnet"))), "could not download"),
    "a server error": (answer(500, b"boom", "text/plain"), "answered HTTP 500"),
    "not found": (answer(404, b"", "text/plain"), "answered HTTP 404"),
    "JSON that is not a config": (answer(200, b"[1, 2, 3]"), "not an object"),
    "no zero state": (answer(200, encoded({"liteservers": [], "validator": {}})), "has no validator.zero_state"),
    "another block 0 file hash": (answer(200, encoded(global_config("mainnet", file_hash="A" * 43 + "="))),
                                  "another zero state than mainnet's: file_hash"),
    "an unknown network": (answer(200, encoded(global_config("mainnet", root_hash="B" * 43 + "="))),
                           "another zero state than mainnet's: root_hash"),
    "no liteservers": (answer(200, encoded({**global_config("mainnet"), "liteservers": []})), "lists no liteservers"),
    "a liteserver without a key": (answer(200, encoded({**global_config("mainnet"), "liteservers": [
        {"ip": 1, "port": 2, "id": {"@type": "pub.ed25519", "key": "c2hvcnQ="}}]})), "no ed25519 public key"),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_a_bad_answer_is_refused_and_the_previous_file_stays(tmp_path, case):
    route, message = BAD_ANSWERS[case]
    target = tmp_path / "mainnet-global.config.json"
    target.write_bytes(PREVIOUS)
    with local_server({"/global-config.json": route}) as server:
        url = f"{server.url}/global-config.json"
        run = run_command("--network", "mainnet", "--url", url, "--out", str(target))
    assert run.returncode == 1
    assert message in run.stderr, run.stderr
    assert url in run.stderr and "the previous file, if any, is unchanged" in run.stderr
    assert target.read_bytes() == PREVIOUS
    assert leftovers(tmp_path) == []


def test_an_unreachable_server_is_named(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    run = run_command("--network", "testnet", "--url", f"http://127.0.0.1:{port}/x.json",
                      "--out", str(tmp_path / "t.json"))
    assert run.returncode == 1 and f"could not download http://127.0.0.1:{port}/x.json" in run.stderr
    assert not (tmp_path / "t.json").exists()


def test_only_http_urls_are_fetched(tmp_path):
    (tmp_path / "local.json").write_bytes(encoded(global_config("testnet")))
    run = run_command("--network", "testnet", "--url", f"file://{tmp_path / 'local.json'}", "--out", str(tmp_path / "t.json"))
    assert run.returncode == 1 and "--url must be an http(s) URL" in run.stderr


def test_the_official_urls_are_the_default():
    assert network_config.OFFICIAL_URLS == {"mainnet": "https://ton.org/global-config.json",
                                            "testnet": "https://ton.org/testnet-global.config.json"}


@pytest.mark.parametrize("network", ["mainnet", "testnet"])
def test_the_target_is_the_file_the_stack_names(network):
    target = network_config.stack_target(network, network)
    assert target == ROOT / "config" / f"{network}-global.config.json"
    assert str(target.relative_to(ROOT)) in (ROOT / f"Pulumi.{network}.yaml").read_text()


def test_a_stack_of_another_network_is_refused(tmp_path):
    (tmp_path / "Pulumi.testnet.yaml").write_text(
        "config:\n  tonsurance:network: testnet\n  tonsurance:liteserverConfig: config/testnet.json\n")
    with pytest.raises(network_config.NetworkConfigError, match="stack testnet is a 'testnet' stack"):
        network_config.stack_target("testnet", "mainnet", tmp_path)
    with pytest.raises(network_config.NetworkConfigError, match="does not exist"):
        network_config.stack_target("mainnet", "mainnet", tmp_path)
    (tmp_path / "Pulumi.bare.yaml").write_text("config:\n  tonsurance:network: mainnet\n")
    with pytest.raises(network_config.NetworkConfigError, match="sets no tonsurance:liteserverConfig"):
        network_config.stack_target("bare", "mainnet", tmp_path)


def test_a_refused_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "c.json"
    target.write_bytes(PREVIOUS)

    def refuse(_written: Path) -> None:
        raise network_config.NetworkConfigError("refused")

    with pytest.raises(network_config.NetworkConfigError):
        network_config.write_atomically(target, b"new", refuse)
    assert target.read_bytes() == PREVIOUS and leftovers(tmp_path) == []


def test_a_write_killed_midway_never_leaves_half_a_file(tmp_path):
    """The writer is killed (SIGKILL) after the new bytes are on disk but before the rename: the file the stack
    names still holds the old config, whole."""
    target, ready = tmp_path / "c.json", tmp_path / "ready"
    target.write_bytes(PREVIOUS)
    script = (
        "import sys, time; from pathlib import Path; from ops.network_config import write_atomically\n"
        f"def hold(_): Path({str(ready)!r}).touch(); time.sleep(60)\n"
        f"write_atomically(Path({str(target)!r}), b'x' * 1_000_000, hold)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the writer never reached the rename"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert target.read_bytes() == PREVIOUS
    # The next run replaces the file whole; the stale temporary is never read (config.py reads the named file).
    network_config.write_atomically(target, b"next")
    assert target.read_bytes() == b"next"
