"""Direct calls across the component boundary, for the few fixed signatures we use.

wasmtime-py's generic component calls rebuild the function's type, walk its parameters and
pick variant cases by Python type on every call; that costs more than our whole tool-call
budget (0.1 ms). Our imports and exports have fixed signatures made of strings and integers,
so these trampolines read and write the C values directly, mirroring exactly how wasmtime-py
allocates and frees them (wasmtime.component._types: String/ResultType convert_to_c/from_c).

The small C calls they make (allocating and freeing a string, boxing a result) go through a
`ctypes.PyDLL` handle on the same library, which keeps the GIL: each of them takes
microseconds, and through wasmtime-py's `CDLL` every one released the GIL and had to win it
back, which under another busy thread (the pool warming an instance, a second caller) cost a
wait each time, several per tool call. Only the call into the guest releases the GIL.

They also keep Python exceptions out of wasmtime's single global "last exception" slot,
which is not safe when several stores run on several threads: a host function that fails
returns a wasmtime error (a trap) and the caller learns why from its own per-run state.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any, Literal

from wasmtime import WasmtimeError
from wasmtime import _ffi as ffi

from .held_signals import signals_held

__all__ = ["HostFunction", "add_host_function", "call_string_export"]

Kind = Literal["string", "u8", "s64", "u64"]
ResultKind = Literal["none", "string", "u64", "result<string,string>", "result<u32,string>"]
HostFunction = Callable[..., Any]

_VAL = ffi.wasmtime_component_val_t
_VEC = ffi.wasm_byte_vec_t
_callbacks: list[Any] = []  # CFUNCTYPE objects must stay alive as long as the linker


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # type: ignore[untyped-decorator]
def _no_finalizer(_env: Any) -> None:
    return None


def _gil_holding(name: str, restype: Any, argtypes: list[Any]) -> Any:
    """`name` from wasmtime's library, called without releasing the GIL (see above)."""
    fn = getattr(_LIB, name)
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


_LIB = ctypes.PyDLL(ffi.dll._name)
_vec_new = _gil_holding(
    "wasm_byte_vec_new", None, [ctypes.POINTER(_VEC), ctypes.c_size_t, ctypes.c_char_p]
)
_vec_delete = _gil_holding("wasm_byte_vec_delete", None, [ctypes.POINTER(_VEC)])
_val_new = _gil_holding("wasmtime_component_val_new", ctypes.POINTER(_VAL), [ctypes.POINTER(_VAL)])
_val_delete = _gil_holding("wasmtime_component_val_delete", None, [ctypes.POINTER(_VAL)])
_string_at = ctypes.string_at  # a PYFUNCTYPE: it keeps the GIL


def _read_string(val: Any) -> str:
    vec = val.of.string
    size = vec.size
    text = _string_at(vec.data, size).decode("utf-8") if size else ""
    _vec_delete(ctypes.byref(vec))  # as wasmtime-py does: we own it
    return text


def _write_string(slot: Any, text: str) -> None:
    """Point `slot` at a new C copy of `text` (freed by whoever owns the value: the callee
    for a host function's result, `_val_delete` for our call's parameter)."""
    data = text.encode("utf-8")
    slot.kind = ffi.WASMTIME_COMPONENT_STRING
    _vec_new(ctypes.byref(slot.of.string), len(data), data)


def _read_arg(val: Any, kind: Kind) -> Any:
    if kind == "string":
        return _read_string(val)
    if kind == "u8":
        return val.of.u8
    if kind == "s64":
        return val.of.s64
    return val.of.u64


def _write_result(results: Any, kind: ResultKind, value: Any) -> None:
    if kind == "none":
        return
    slot = results[0]
    if kind == "string":
        _write_string(slot, value)
        return
    if kind == "u64":
        slot.kind = ffi.WASMTIME_COMPONENT_U64
        slot.of.u64 = value
        return
    ok, payload = value
    inner = _VAL()
    if ok and kind == "result<u32,string>":
        inner.kind = ffi.WASMTIME_COMPONENT_U32
        inner.of.u32 = payload
    else:
        _write_string(inner, payload)
    slot.kind = ffi.WASMTIME_COMPONENT_RESULT
    slot.of.result.is_ok = bool(ok)
    slot.of.result.val = _val_new(ctypes.byref(inner))


def add_host_function(
    linker_instance: Any,
    name: str,
    fn: HostFunction,
    params: tuple[Kind, ...],
    result: ResultKind,
    on_error: Callable[[BaseException], None],
) -> None:
    """Define `name` on a component linker instance with a fixed-signature trampoline.

    `fn` gets the decoded arguments and returns the result (for result<...> kinds an
    ``(ok, payload)`` pair). If it raises, `on_error` is told and the guest traps.
    """

    one_string = params == ("string",) and result == "string"  # the tool call's signature

    def trampoline(
        _env: Any, _ctx: Any, _ty: Any, args: Any, nargs: int, results: Any, nresults: int
    ) -> int:
        try:
            if one_string:  # no generic reading and writing on the tool call's path
                _write_string(results[0], fn(_read_string(args[0])))
            else:
                values = [_read_arg(args[i], params[i]) for i in range(nargs)]
                _write_result(results, result, fn(*values))
            return 0
        except BaseException as exc:  # nothing may unwind through the C frames
            try:
                on_error(exc)
            except BaseException:
                pass
            err = ffi.wasmtime_error_new(f"codeact host function {name} stopped the guest".encode())
            return ctypes.cast(err, ctypes.c_void_p).value or 0

    callback = ffi.wasmtime_component_func_callback_t(trampoline)
    _callbacks.append(callback)
    encoded = name.encode("utf-8")
    err = ffi.wasmtime_component_linker_instance_add_func(
        linker_instance.ptr(),
        ctypes.create_string_buffer(encoded),
        len(encoded),
        callback,
        None,
        _no_finalizer,
    )
    if err:
        raise WasmtimeError._from_ptr(err)


def call_string_export(func: Any, store: Any, text: str) -> str:
    """Call an export of type ``func(string) -> string``; raise WasmtimeError on a trap.
    On the main thread, signals wait until the guest returns (`signals_held`)."""
    with signals_held():
        return _call_string_export(func, store, text)


def _call_string_export(func: Any, store: Any, text: str) -> str:
    params = (_VAL * 1)()
    _write_string(params[0], text)
    result = _VAL()
    try:
        err = ffi.wasmtime_component_func_call(
            ctypes.byref(func._func), store._context(), params, 1, ctypes.byref(result), 1
        )
    finally:
        _val_delete(ctypes.byref(params[0]))
    if err:
        raise WasmtimeError._from_ptr(err)
    return _read_string(result)
