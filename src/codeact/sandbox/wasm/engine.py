"""The wasmtime engine for the guest: epoch interruption and the pooling instance allocator.

Every program gets a fresh instance, so what an instance costs to make and to free is paid
once per execution. wasmtime's default allocator maps a new linear memory (copy-on-write from
the guest's memory image) for each instance and unmaps it afterwards; the pooling allocator
reserves the slots once per engine and reuses them, resetting a freed slot to the image. Same
isolation (each instance still has its own memory, tables and stack, guard pages around each
memory; a slot is reset before reuse), less work per instance: measured on this guest, 2-core
machine at load 10, CPU per instance (make + warm + run print(1) + free) 4.6-6.1 ms with the
default allocator and 3.7-4.9 ms pooled.

The pool's limits bound how many instances may exist at once in the process (running,
warm in a backend's pool, or waiting to be freed): `MAX_INSTANCES`. Making one more fails
with wasmtime's message, which the backend turns into a failed result. The slots are only
address space (reserved, not committed, about 8.6 TB of it: VmSize shows that) until an
instance uses them. wasmtime's C API aborts the process when that reservation fails, so a
process with a limit on its address space (RLIMIT_AS, ``ulimit -v``) gets the default
allocator instead, as does a platform without that limit's notion (then the pool is never
tried).
"""

from __future__ import annotations

import logging
import sys

import wasmtime
from wasmtime import WasmtimeError
from wasmtime import _ffi as ffi

__all__ = [
    "MAX_INSTANCES",
    "MAX_MEMORY_BYTES",
    "MAX_WASM_STACK",
    "make_engine",
    "pooling_possible",
]

log = logging.getLogger("codeact.sandbox.wasm")

#: Guest instances that may exist at once in one process (the pooling allocator's slots).
MAX_INSTANCES = 1000
#: The largest linear memory a slot holds: the highest `Limits.memory_mb` (4000 MiB).
MAX_MEMORY_BYTES = 4000 * 1024 * 1024
#: How much of the calling thread's stack a guest may use (checked against
#: `sandbox.threads.GUEST_THREAD_STACK`): past it, the guest traps with "call stack
#: exhausted", which the backend reports as too deep recursion. CPython's own C-recursion
#: check does not see this stack under WebAssembly (it measures the guest's stack in linear
#: memory), so this is what stops deep C recursion: the `repr` or pickle of a list nested
#: about 4,000 deep (1,000 at wasmtime's default of 512 KiB). 2 MiB is the most wasmtime
#: accepts: past its async stack size (2 MiB) the engine is not made.
MAX_WASM_STACK = 2 * 1024 * 1024
# What one instance of our guest uses (componentize-py's CPython: 1 memory, 2 tables and 15
# core instances, measured), with room to spare for a future guest build.
_CORE_INSTANCES_EACH = 32
_TABLES_EACH = 4
_MEMORIES_EACH = 2


def _config(*, pooling: bool) -> wasmtime.Config:
    config = wasmtime.Config()
    config.epoch_interruption = True
    config.max_wasm_stack = MAX_WASM_STACK
    if pooling:
        pool = ffi.wasmtime_pooling_allocation_config_new()
        try:
            ffi.wasmtime_pooling_allocation_config_total_component_instances_set(
                pool, MAX_INSTANCES
            )
            ffi.wasmtime_pooling_allocation_config_total_core_instances_set(
                pool, MAX_INSTANCES * _CORE_INSTANCES_EACH
            )
            ffi.wasmtime_pooling_allocation_config_total_memories_set(
                pool, MAX_INSTANCES * _MEMORIES_EACH
            )
            ffi.wasmtime_pooling_allocation_config_total_tables_set(
                pool, MAX_INSTANCES * _TABLES_EACH
            )
            ffi.wasmtime_pooling_allocation_config_max_memory_size_set(pool, MAX_MEMORY_BYTES)
            ffi.wasmtime_pooling_allocation_strategy_set(config.ptr(), pool)
        finally:
            ffi.wasmtime_pooling_allocation_config_delete(pool)
    return config


def pooling_possible() -> bool:
    """Whether the pool's address space can be reserved: on Linux with no RLIMIT_AS."""
    if not sys.platform.startswith("linux"):
        return False
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return soft == resource.RLIM_INFINITY


def make_engine() -> tuple[wasmtime.Engine, bool]:
    """The engine every guest instance of the process runs on, and whether it is pooled."""
    if pooling_possible():
        try:
            return wasmtime.Engine(_config(pooling=True)), True
        except WasmtimeError as exc:
            log.warning("wasmtime's pooling allocator is unavailable (%s); using the default", exc)
    return wasmtime.Engine(_config(pooling=False)), False
