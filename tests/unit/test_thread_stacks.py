"""Threads that run programs get a stack the guest's share fits in, whatever the application set.

`sandbox.threads.start_thread` starts them; the escape suite (`test_stack_escapes.py`) shows
what happened without it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator

import pytest

from codeact.sandbox.threads import GUEST_THREAD_STACK, DaemonThreadPool, start_thread
from codeact.sandbox.wasm.engine import MAX_WASM_STACK


def _own_stack_size() -> int:
    """The calling thread's stack size, from glibc's `pthread_getattr_np`."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if not hasattr(libc, "pthread_getattr_np"):
        pytest.skip("this C library has no pthread_getattr_np to read a thread's stack size")
    attr = ctypes.create_string_buffer(128)  # pthread_attr_t is 56 bytes on glibc x86-64
    assert libc.pthread_getattr_np(ctypes.c_ulong(threading.get_ident()), attr) == 0
    size = ctypes.c_size_t()
    address = ctypes.c_void_p()
    assert libc.pthread_attr_getstack(attr, ctypes.byref(address), ctypes.byref(size)) == 0
    libc.pthread_attr_destroy(attr)
    return size.value


def _setting() -> int:
    """The process's thread stack setting (`stack_size()` alone would reset it to 0)."""
    size = threading.stack_size()
    threading.stack_size(size)
    return size


@pytest.fixture
def small_stacks() -> Iterator[int]:
    """The application asks for small thread stacks, as some servers do."""
    previous = threading.stack_size(256 * 1024)
    try:
        yield 256 * 1024
    finally:
        threading.stack_size(previous)


def test_the_guest_share_leaves_the_host_room() -> None:
    # The host's frames below the guest (tool calls, callbacks) need megabytes, not bytes.
    assert GUEST_THREAD_STACK >= MAX_WASM_STACK + 4 * 1024 * 1024


def test_a_started_thread_gets_the_stack_and_the_setting_is_put_back(small_stacks: int) -> None:
    sizes: list[int] = []
    start_thread(lambda: sizes.append(_own_stack_size()), name="stack-probe").join()
    assert sizes[0] >= GUEST_THREAD_STACK
    assert _setting() == small_stacks
    other: list[int] = []
    plain = threading.Thread(target=lambda: other.append(_own_stack_size()))
    plain.start()
    plain.join()
    assert other[0] < GUEST_THREAD_STACK  # the application's own threads keep its choice


def test_the_pools_threads_get_it(small_stacks: int) -> None:
    pool = DaemonThreadPool("stack-test")
    try:
        assert pool.submit(_own_stack_size).result(timeout=10) >= GUEST_THREAD_STACK
    finally:
        pool.shutdown()


def test_a_larger_setting_of_the_application_is_kept() -> None:
    previous = threading.stack_size(2 * GUEST_THREAD_STACK)
    try:
        sizes: list[int] = []
        start_thread(lambda: sizes.append(_own_stack_size()), name="stack-probe").join()
        assert sizes[0] >= 2 * GUEST_THREAD_STACK
        assert _setting() == 2 * GUEST_THREAD_STACK
    finally:
        threading.stack_size(previous)
