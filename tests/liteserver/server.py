"""Liteservers on 127.0.0.1 speaking ADNL over TCP, answering from a FakeTonNetwork (tests/liteserver/network.py).

pytoniq's client connects to them unchanged: the ADNL handshake (x25519 + AES-CTR), the TL-serialized
`liteServer.*` queries and answers, pings. All liteservers of a farm run on one event loop in one thread, so
they never touch the network at the same time. Each liteserver has a `Behaviour`: honest by default, or
lagging, withholding, lying in one of the ways a verifier must catch, or failing (dropped connections,
hangs, errors).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey, VerifyKey
from pytoniq_core import Address, Cell
from pytoniq_core.crypto.ciphers import aes_ctr_decrypt, aes_ctr_encrypt, create_aes_ctr_cipher, get_random, get_shared_key
from pytoniq_core.tl.block import BlockIdExt
from pytoniq_core.tl.generator import TlGenerator

from chain.liteserver import ZERO_STATE_ROOT_HASHES
from chain.sandbox import ExternalNotAccepted
from tests.liteserver.network import FakeTonNetwork, MasterBlock, node_id

SCHEMAS = TlGenerator.with_default_schemas().generate()
ARRIVALS = itertools.count()
KEY_ID_PREFIX = bytes.fromhex("c6b41348")


@dataclass
class Behaviour:
    lag_at: int | None = None                 # answer as if this masterchain seqno were the newest
    fork: FakeTonNetwork | None = None        # heads and proofs from a fork signed by validators of its own
    hide: set[str] = field(default_factory=set)         # raw addresses sent without state (the proof shows them)
    other_shard: set[str] = field(default_factory=set)  # raw addresses answered from the other shard's block
    duplicate_signatures: bool = False        # one validator's signature repeated up to the needed weight
    few_signatures: bool = False              # signed by a third of the validators only
    bad_signature: bool = False               # one signature over another block
    tamper_state: bool = False                # another account's state sent under the proof
    drop_transactions: bool = False           # a transaction list with one transaction left out
    failures: dict[str, list[str]] = field(default_factory=dict)   # request -> ["drop" | "hang" | "651" ...]


class FakeLiteserver:
    def __init__(self, network: FakeTonNetwork, seed: int):
        self.network = network
        self.key = SigningKey(bytes([0x77, seed]) * 16)
        self.behaviour = Behaviour()
        self.requests: list[str] = []
        self.queries: list[tuple[int, dict]] = []   # (arrival order across every liteserver, query)
        self.bytes_sent = 0
        self.port = 0

    @property
    def public_key(self) -> bytes:
        return bytes(self.key.verify_key)

    def config_entry(self) -> dict:
        return {"ip": 2130706433, "port": self.port,
                "id": {"@type": "pub.ed25519", "key": base64.b64encode(self.public_key).decode()}}

    # ---- ADNL ---------------------------------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            hello = await reader.readexactly(256)
            if hello[:32] != hashlib.sha256(KEY_ID_PREFIX + self.public_key).digest():
                return
            client = VerifyKey(hello[32:64]).to_curve25519_public_key().encode()
            shared = get_shared_key(self.key.to_curve25519_private_key().encode(), client)
            checksum = hello[64:96]
            init = create_aes_ctr_cipher(shared[0:16] + checksum[16:32], checksum[0:4] + shared[20:32])
            secret = aes_ctr_decrypt(init, hello[96:256])
            if hashlib.sha256(secret).digest() != checksum:
                return
            encrypt = create_aes_ctr_cipher(secret[0:32], secret[64:80])
            decrypt = create_aes_ctr_cipher(secret[32:64], secret[80:96])
            self._send(writer, encrypt, b"")
            while True:
                length = int.from_bytes(aes_ctr_decrypt(decrypt, await reader.readexactly(4)), "little")
                packet = aes_ctr_decrypt(decrypt, await reader.readexactly(length))
                if hashlib.sha256(packet[:-32]).digest() != packet[-32:]:
                    return
                query, _ = SCHEMAS.deserialize(packet[32:-32])
                if query.get("@type") == "tcp.ping":
                    self._send(writer, encrypt, SCHEMAS.serialize("tcp.pong", {"random_id": query["random_id"]}))
                    continue
                answer = await self._answer(query["query"]["data"])
                if answer is None:      # a dropped connection
                    return
                self.bytes_sent += len(answer)
                self._send(writer, encrypt, SCHEMAS.serialize("adnl.message.answer",
                                                              {"query_id": query["query_id"], "answer": answer}))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    @staticmethod
    def _send(writer: asyncio.StreamWriter, cipher, payload: bytes) -> None:
        nonce = get_random(32)
        body = nonce + payload + hashlib.sha256(nonce + payload).digest()
        writer.write(aes_ctr_encrypt(cipher, len(body).to_bytes(4, "little") + body))

    async def _answer(self, request: Any) -> bytes | None:
        if isinstance(request, list):           # a waitMasterchainSeqno prefix, then the query
            request = request[-1]
        name = request["@type"].removeprefix("liteServer.")
        self.requests.append(name)
        self.queries.append((next(ARRIVALS), request))
        planned = self.behaviour.failures.get(name)
        if planned:
            failure = planned.pop(0)
            if failure == "drop":
                return None
            if failure == "hang":
                await asyncio.sleep(3600)
            return error_answer(int(failure), "block is not ready")
        try:
            schema, answer = getattr(self, f"_{name}")(request)
        except LookupError as error:
            return error_answer(651, f"not in db: {error}")
        except ExternalNotAccepted as refused:
            return error_answer(0, f"cannot apply external message to current state: {refused}")
        return SCHEMAS.serialize(f"liteServer.{schema}", answer)

    # ---- queries ------------------------------------------------------------------------------------------
    def _chain(self) -> FakeTonNetwork:
        return self.behaviour.fork or self.network

    def _head(self) -> MasterBlock:
        chain = self._chain()
        head = chain.head()
        return chain.block(self.behaviour.lag_at) if self.behaviour.lag_at is not None else head

    def _block(self, data: dict) -> MasterBlock:
        wanted = BlockIdExt.from_dict(data)
        chain = self._chain()
        chain.head()
        if not 0 <= wanted.seqno - chain.blocks[0].block.seqno < len(chain.blocks):
            raise LookupError(f"block {wanted.seqno}")
        block = chain.block(wanted.seqno)
        if block.block != wanted:
            raise LookupError(f"block {wanted.seqno} with that hash")
        return block

    def _getMasterchainInfo(self, _request: dict) -> tuple[str, dict]:
        head = self._head()
        zero = {"workchain": -1, "root_hash": base64.b64decode(ZERO_STATE_ROOT_HASHES["testnet"]).hex(),
                "file_hash": bytes(32).hex()}
        return "masterchainInfo", {"last": head.block.to_dict(), "state_root_hash": head.state.hash.hex(), "init": zero}

    def _getBlockHeader(self, request: dict) -> tuple[str, dict]:
        block = self._block(request["id"])
        return "blockHeader", {"id": block.block.to_dict(), "mode": 0,
                               "header_proof": FakeTonNetwork.header_proof(block.cell).to_boc()}

    def _getBlockProof(self, request: dict) -> tuple[str, dict]:
        known, target = BlockIdExt.from_dict(request["known_block"]), BlockIdExt.from_dict(request["target_block"])
        chain = self._chain()
        if self.behaviour.fork is not None:     # links from the trusted block, through the fork's own key block
            head = self._head()
            link = chain.forward_link(chain.blocks[0], head)
            link["from"] = known.to_dict()
            return "partialBlockProof", {"complete": True, "from": known.to_dict(), "to": target.to_dict(),
                                         "steps": [link]}
        proof = chain.block_proof(known, self._block(target.to_dict()).block)
        last = proof["steps"][-1] if proof["steps"] else None
        if last is not None:
            signers = self._block(last["to"]).signers
            if self.behaviour.duplicate_signatures:
                one = chain.signatures(BlockIdExt.from_dict(last["to"]), signers[:1])
                last["signatures"]["signatures"] = one * len(signers)
            elif self.behaviour.few_signatures:
                last["signatures"]["signatures"] = chain.signatures(BlockIdExt.from_dict(last["to"]),
                                                                    signers[: len(signers) // 3])
            elif self.behaviour.bad_signature:
                other = chain.blocks[0].block
                forged = chain.signatures(other, signers[:1])[0]
                last["signatures"]["signatures"][0] = forged
        return "partialBlockProof", proof

    def _getAccountState(self, request: dict) -> tuple[str, dict]:
        block = self._block(request["id"])
        account = request["account"]
        address = Address((account["workchain"], bytes.fromhex(account["id"])))
        raw = address.to_str(False)
        chain = self._chain()
        shard = None
        if raw in self.behaviour.other_shard:
            shard = block.shards[1 - (address.hash_part[0] >> 7)]
        answer = chain.account_state(block, address, shard=shard, hide=raw in self.behaviour.hide)
        if self.behaviour.tamper_state and answer["state"]:
            other = next(a for a in chain.chain._accounts if a != raw)
            answer["state"] = Cell.one_from_boc(base64.b64decode(chain.chain._accounts[other])).refs[0].to_boc()
        return "accountState", answer

    def _getTransactions(self, request: dict) -> tuple[str, dict]:
        account = request["account"]
        address = Address((account["workchain"], bytes.fromhex(account["id"])))
        answer = self._chain().transactions(address, request["count"], request["lt"], bytes.fromhex(request["hash"]))
        if self.behaviour.drop_transactions and len(answer["ids"]) > 1:
            from tests.liteserver.network import boc_of
            cells = Cell.from_boc(answer["transactions"])
            answer = {"ids": answer["ids"][1:], "transactions": boc_of(*cells[1:])}
        return "transactionList", answer

    def _sendMessage(self, request: dict) -> tuple[str, dict]:
        self._chain().chain.send_external_message(Cell.one_from_boc(request["body"]))
        return "sendMsgStatus", {"status": 1}


def error_answer(code: int, message: str) -> bytes:
    """liteServer.error code:int message:string (pytoniq_core's serializer leaves strings out)."""
    return (SCHEMAS.get_by_name("liteServer.error").little_id() + code.to_bytes(4, "little", signed=True)
            + SCHEMAS.serialize_field("bytes", message.encode()))


class LiteserverFarm:
    """Liteservers of one network on one event loop in a background thread, and their config file."""

    def __init__(self, network: FakeTonNetwork, count: int = 2):
        self.network = network
        self.servers = [FakeLiteserver(network, i) for i in range(count)]
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._started.wait(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._listeners = []
        for server in self.servers:
            listener = self._loop.run_until_complete(asyncio.start_server(server.handle, "127.0.0.1", 0))
            server.port = listener.sockets[0].getsockname()[1]
            self._listeners.append(listener)
        self._started.set()
        self._loop.run_forever()
        pending = asyncio.all_tasks(self._loop)     # connections still open: end them while the loop runs
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def config_file(self, directory: Path, down: int = 0) -> str:
        """A testnet global config listing these liteservers (and `down` more where nothing listens)."""
        entries = [s.config_entry() for s in self.servers]
        entries += [{"ip": 2130706433, "port": 9, "id": {"@type": "pub.ed25519", "key": base64.b64encode(
            bytes(SigningKey(bytes([0x66, i]) * 16).verify_key)).decode()}} for i in range(down)]
        zero = {"workchain": -1, "shard": -9223372036854775808, "seqno": 0,
                "root_hash": ZERO_STATE_ROOT_HASHES["testnet"], "file_hash": base64.b64encode(bytes(32)).decode()}
        path = Path(directory) / "testnet-liteservers.json"
        path.write_text(json.dumps({"liteservers": entries, "validator": {"@type": "validator.config.global",
                                                                          "zero_state": zero, "init_block": zero}}))
        return str(path)

    def requests(self, name: str) -> int:
        return sum(s.requests.count(name) for s in self.servers)

    def queries(self, name: str) -> list[dict]:
        """The queries of that kind, in the order they arrived (at any of the liteservers)."""
        arrived = sorted(q for s in self.servers for q in s.queries if q[1]["@type"] == f"liteServer.{name}")
        return [query for _, query in arrived]

    def stop(self) -> None:
        def shutdown() -> None:
            for listener in self._listeners:
                listener.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(shutdown)
        self._thread.join(10)


def validators_node_ids(keys: list[SigningKey]) -> list[str]:
    return [node_id(bytes(k.verify_key)).hex() for k in keys]
