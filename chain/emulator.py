"""Thin, safe wrapper over the TON emulator library shipped in the pytvm wheel (libemulator).

pytvm's own Python layer is not used: its `EmulatorEngineC.default()` needs pkg_resources, its ctypes
signatures declare three 64-bit arguments as 32-bit (logical time, the balance in c7, the amount of an
internal message), it never frees the JSON answers, and its default config is a toy. We bind the library
ourselves with the C signatures of emulator-extern.h and always pass the full mainnet config cell.
"""
from __future__ import annotations

import base64
import ctypes
import functools
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pytvm
from pytoniq_core import Cell, HashMap

from chain.blockchain_config import config_b64

LIBRARY_PATH = Path(pytvm.__file__).resolve().parent / "engine" / "libemulator-linux-x86_64.so"


class EmulatorError(RuntimeError):
    """The emulator library refused a call (bad BOC, bad config, internal error)."""


def b64(cell: Cell) -> bytes:
    return base64.b64encode(cell.to_boc())


@functools.cache
def _library() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(LIBRARY_PATH))
    ptr, cstr, u32, u64, i64, cint, cbool = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32,
                                             ctypes.c_uint64, ctypes.c_int64, ctypes.c_int, ctypes.c_bool)
    signatures = {
        "emulator_set_verbosity_level": (cbool, [cint]),
        "transaction_emulator_create": (ptr, [cstr, cint]),
        "transaction_emulator_set_unixtime": (cbool, [ptr, u32]),
        "transaction_emulator_set_lt": (cbool, [ptr, u64]),
        "transaction_emulator_set_rand_seed": (cbool, [ptr, cstr]),
        "transaction_emulator_set_ignore_chksig": (cbool, [ptr, cbool]),
        "transaction_emulator_set_libs": (cbool, [ptr, cstr]),
        "transaction_emulator_emulate_transaction": (ptr, [ptr, cstr, cstr]),  # strdup'ed JSON, see _take
        "transaction_emulator_destroy": (None, [ptr]),
        "tvm_emulator_create": (ptr, [cstr, cstr, cint]),
        "tvm_emulator_set_c7": (cbool, [ptr, cstr, u32, u64, cstr, cstr]),
        "tvm_emulator_set_gas_limit": (cbool, [ptr, i64]),
        "tvm_emulator_set_libraries": (cbool, [ptr, cstr]),
        "tvm_emulator_run_get_method": (ptr, [ptr, cint, cstr]),
        "tvm_emulator_destroy": (None, [ptr]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    lib.emulator_set_verbosity_level(0)
    return lib


@functools.cache
def _libc_free():
    free = ctypes.CDLL("libc.so.6").free
    free.argtypes, free.restype = [ctypes.c_void_p], None
    return free


def _take(pointer: int | None) -> dict:
    """Decode a JSON answer of the library and free it (the library strdup()s every answer)."""
    if not pointer:
        raise EmulatorError("libemulator returned no answer")
    try:
        return json.loads(ctypes.string_at(pointer))
    finally:
        _libc_free()(pointer)


@dataclass(frozen=True)
class EmulationResult:
    """Outcome of one transaction emulation; BOCs are base64 bytes as the library returns them."""
    success: bool
    transaction: bytes | None = None
    shard_account: bytes | None = None
    error: str | None = None
    external_not_accepted: bool = False
    vm_exit_code: int | None = None
    vm_log: str = ""


class TransactionEmulator:
    """One libemulator transaction emulator configured with the mainnet config; reused across transactions."""

    def __init__(self, libraries: Cell | None = None) -> None:
        """`libraries`: the masterchain libraries the code may load (libraries_cell), e.g. the multisig v2
        order code. They stay set for the emulator's life (the library cannot unset them)."""
        self._lib = _library()
        self._handle = self._lib.transaction_emulator_create(config_b64(), 0)
        if not self._handle:
            raise EmulatorError("libemulator rejected the blockchain config")
        if libraries is not None and not self._lib.transaction_emulator_set_libs(self._handle, b64(libraries)):
            raise EmulatorError("libemulator rejected the libraries")

    def emulate(self, shard_account: Cell | bytes, message: Cell, *, unixtime: int, lt: int,
                rand_seed: bytes) -> EmulationResult:
        lib = self._lib
        if not (lib.transaction_emulator_set_unixtime(self._handle, unixtime)
                and lib.transaction_emulator_set_lt(self._handle, lt)
                and lib.transaction_emulator_set_rand_seed(self._handle, rand_seed.hex().encode())):
            raise EmulatorError("libemulator rejected unixtime, lt or random seed")
        account_b64 = shard_account if isinstance(shard_account, bytes) else b64(shard_account)
        result = _take(lib.transaction_emulator_emulate_transaction(self._handle, account_b64, b64(message)))
        if result.get("success"):
            return EmulationResult(True, result["transaction"].encode(), result["shard_account"].encode(),
                                   vm_log=result.get("vm_log", ""))
        if "error" in result and not result.get("external_not_accepted") and "vm_exit_code" not in result:
            raise EmulatorError(f"emulation failed: {result['error']}")
        return EmulationResult(False, error=result.get("error"), vm_log=result.get("vm_log", ""),
                               external_not_accepted=bool(result.get("external_not_accepted")),
                               vm_exit_code=result.get("vm_exit_code"))

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle:
            self._lib.transaction_emulator_destroy(handle)


class _GetterEmulators:
    """TVM emulators loaded with an account's code, data and c7, kept for the next getter of the same account
    at the same moment: loading the code and parsing the config into c7 cost more than most getters (the
    router's 256 shard addresses are 256 getters on one account). A getter leaves the emulator's state as it
    was, so reuse answers exactly what a fresh emulator would. One lock: the library's handles are not
    thread-safe, and a provider runs several resources in threads."""

    SIZE = 8

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._handles: OrderedDict[tuple, int] = OrderedDict()

    @property
    def lib(self) -> ctypes.CDLL:
        return _library()

    def handle(self, context: tuple, code: Cell, data: Cell, libraries: Cell | None) -> int:
        """The emulator for `context` (code hash, data hash, address, unixtime, balance, seed, libraries hash);
        caller holds the lock."""
        handle = self._handles.get(context)
        if handle is not None:
            self._handles.move_to_end(context)
            return handle
        address, unixtime, balance, seed = context[2:6]
        handle = self.lib.tvm_emulator_create(b64(code), b64(data), 0)
        if not handle:
            raise EmulatorError("libemulator could not load the account's code or data")
        if not self.lib.tvm_emulator_set_c7(handle, address.encode(), unixtime, balance, seed.hex().encode(),
                                            config_b64()):
            self.lib.tvm_emulator_destroy(handle)
            raise EmulatorError("libemulator rejected the getter context (c7)")
        if libraries is not None and not self.lib.tvm_emulator_set_libraries(handle, b64(libraries)):
            self.lib.tvm_emulator_destroy(handle)
            raise EmulatorError("libemulator rejected the libraries")
        self._handles[context] = handle
        while len(self._handles) > self.SIZE:
            self.lib.tvm_emulator_destroy(self._handles.popitem(last=False)[1])
        return handle


_GETTERS = _GetterEmulators()


@dataclass(frozen=True)
class GetMethodResult:
    exit_code: int
    stack: Cell | None     # VmStack cell, None if the library produced no stack
    gas_used: int
    vm_log: str


def libraries_cell(libraries: dict[str, Cell]) -> Cell | None:
    """Library code by its hash (hex), as the emulator takes it: Hashmap 256 hash -> ^code (None when empty)."""
    if not libraries:
        return None
    table = HashMap(256, value_serializer=lambda code, builder: builder.store_ref(code))
    for code_hash, code in libraries.items():
        table.set_int_key(int(code_hash, 16), code)
    return table.serialize()


def run_get_method(*, code: Cell, data: Cell, address: str, unixtime: int, balance: int, method_id: int,
                   stack: Cell, rand_seed: bytes, gas_limit: int = 10_000_000,
                   libraries: Cell | None = None) -> GetMethodResult:
    """Run a get-method on (code, data) with a c7 describing the account; `address` is raw 'wc:hex'."""
    context = (code.hash, data.hash, address, unixtime, balance, rand_seed,
               libraries.hash if libraries is not None else None)
    with _GETTERS.lock:
        handle = _GETTERS.handle(context, code, data, libraries)
        _GETTERS.lib.tvm_emulator_set_gas_limit(handle, gas_limit)
        result = _take(_GETTERS.lib.tvm_emulator_run_get_method(handle, method_id, b64(stack)))
    if not result.get("success"):
        raise EmulatorError(f"get-method emulation failed: {result.get('error')}")
    stack_b64 = result.get("stack")
    return GetMethodResult(int(result["vm_exit_code"]),
                           Cell.one_from_boc(base64.b64decode(stack_b64)) if stack_b64 else None,
                           int(result.get("gas_used", 0)), result.get("vm_log", ""))
