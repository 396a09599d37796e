"""What the kernel counts outside a run's own limits: disk preallocated behind a file of size 0,
the priority of every process of the user, quotas counted per user and so shared with the host
(queued signals and POSIX timers, inotify instances), threads (RLIMIT_NPROC does not apply to
root), and socket ioctls that answer about the host's network. Through ctypes and raw calls no
Python check runs: each refusal is the kernel's (seccomp, rlimits, the zygote's cgroup).

These are jail-only: the other backends have no ctypes and no kernel of the host's to reach.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from codeact import Limits
from codeact.sandbox.jail import cgroup

_PRE = """
import os, sys
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ImportPolicy"]
import ctypes
libc = ctypes.CDLL(None, use_errno=True)

def report(name, result):
    print(name, result, ctypes.get_errno() if result != 0 else 0)
"""

FALLOCATE = (
    _PRE
    + """
import fcntl, struct
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
fd = os.open("/output/big", os.O_CREAT | os.O_WRONLY, 0o644)
report("keep_size", libc.fallocate(fd, 1, 0, 64 << 20))  # FALLOC_FL_KEEP_SIZE
report("zero_range", libc.fallocate(fd, 0x10 | 1, 0, 64 << 20))  # ZERO_RANGE | KEEP_SIZE
resv = struct.pack("hhqqiI4i", 0, 0, 0, 64 << 20, 0, 0, 0, 0, 0, 0)  # struct space_resv
try:
    fcntl.ioctl(fd, 0x4030582A, resv)  # FS_IOC_RESVSP64: the same through an ioctl
    print("resvsp64 0 0")
except OSError as exc:
    print("resvsp64 -1", exc.errno)
print("allocated", os.fstat(fd).st_blocks * 512)
os.posix_fallocate(fd, 0, 4096)  # plain fallocate grows the size: the size limit applies
print("plain", os.fstat(fd).st_size)
"""
)

PRIORITY = (
    _PRE
    + """
# PRIO_PGRP 0: its own process group; PRIO_USER with its pid as a uid: no such user (ESRCH,
# nothing changes) where `which` is not checked. PRIO_USER 0 would renice the host's processes.
report("pgrp", libc.setpriority(1, 0, 1))
report("user", libc.setpriority(2, os.getpid(), 1))
libc.getpriority.restype = ctypes.c_int
ctypes.set_errno(0)
libc.getpriority(2, 0)
print("get_user", ctypes.get_errno())
os.setpriority(os.PRIO_PROCESS, 0, 1)
print("own", os.getpriority(os.PRIO_PROCESS, 0))
"""
)

QUOTAS = (
    _PRE
    + """
import signal
# Real-time signals queued to itself, blocked: each one is counted against the user's
# RLIMIT_SIGPENDING, shared with the host's processes of the same user (as POSIX timers are).
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGRTMIN})
libc.sigqueue.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
queued = 0
while queued < 5000 and libc.sigqueue(os.getpid(), signal.SIGRTMIN, None) == 0:
    queued += 1
print("queued", queued, ctypes.get_errno())
timer = ctypes.c_long()
report("timer_create", libc.timer_create(1, None, ctypes.byref(timer)))
report("inotify_init", libc.inotify_init())
report("inotify_init1", libc.inotify_init1(0))
"""
)

THREADS = (
    _PRE
    + """
# Threads with the smallest stacks, so that the memory limit is not what stops them; each
# holds kernel memory outside that limit, and a pid of the host's.
attr = ctypes.create_string_buffer(64)  # pthread_attr_t
libc.pthread_attr_init(attr)
libc.pthread_attr_setstacksize(attr, ctypes.c_size_t(16384))
libc.pthread_attr_setguardsize(attr, ctypes.c_size_t(0))
pause = ctypes.cast(libc.pause, ctypes.c_void_p)
tid = ctypes.c_ulong()
started, err = 0, 0
while started < 3000:
    err = libc.pthread_create(ctypes.byref(tid), attr, pause, None)
    if err:
        break
    started += 1
print("threads", started, err)
"""
)

SOCKET_IOCTL = """
import fcntl, socket, struct, array
a, b = socket.socketpair()
buf = array.array("b", bytes(40 * 32))
ifc = struct.pack("iL", len(buf), buf.buffer_info()[0])
try:
    fcntl.ioctl(a.fileno(), 0x8912, ifc)  # SIOCGIFCONF: the host's interfaces and addresses
    print("SIOCGIFCONF answered")
except OSError as exc:
    print("SIOCGIFCONF", exc.errno)
"""

SOCKET_MEMORY = (
    _PRE
    + """
import array, socket
a, b = socket.socketpair()
for name in ("SO_SNDBUF", "SO_RCVBUF", "SO_SNDBUFFORCE", "SO_RCVBUFFORCE"):
    try:  # up to twice wmem_max (8 MiB) of kernel memory a socket, outside RLIMIT_AS
        a.setsockopt(socket.SOL_SOCKET, getattr(socket, name, {"SO_SNDBUFFORCE": 32,
                     "SO_RCVBUFFORCE": 33}.get(name)), 64 << 20)
        print(name, "set", a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    except OSError as exc:
        print(name, exc.errno)
c, d = socket.socketpair()
fds = array.array("i", [c.fileno(), d.fileno()])
try:  # a socket in flight outlives its close, past RLIMIT_NOFILE
    a.sendmsg([b"f"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
    print("scm_rights sent")
except OSError as exc:
    print("scm_rights", exc.errno)
a.sendall(b"plain")  # the ordinary path: send and recv
print("plain", b.recv(16).decode())
"""
)

PIPE_PAGES = (
    _PRE
    + """
libc.syscall.restype = ctypes.c_long
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(b"x" * 4096)
iov = iovec(ctypes.addressof(buf), 1)
r, w = os.pipe()
r2, w2 = os.pipe()
numbers = {"x86_64": (278, 275, 276, 40), "aarch64": (75, 76, 77, 71)}[os.uname().machine]
vmsplice, splice, tee, sendfile = numbers
# vmsplice: the pipe keeps the page (a whole huge page) after munmap
print("vmsplice", libc.syscall(vmsplice, w, ctypes.byref(iov), 1, 0), ctypes.get_errno())
os.write(w, b"y")
fd = os.open("/output/f", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"z" * 4096)
# splice: the pipe keeps the file's page after the file is truncated
print("splice", libc.syscall(splice, fd, None, w2, None, 1, 0), ctypes.get_errno())
print("tee", libc.syscall(tee, r, w2, 1, 0), ctypes.get_errno())
print("read", os.read(r, 1).decode())
# sendfile: a socket's (or pipe's) buffer keeps a reference to the page for each byte sent
import shutil, socket
a, b = socket.socketpair()
print("sendfile", libc.syscall(sendfile, a.fileno(), fd, None, 1), ctypes.get_errno())
shutil.copyfile("/output/f", "/output/g")  # falls back to read and write
print("copied", os.path.getsize("/output/g"))
"""
)


def _lines(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in stdout.splitlines() if line.strip()}


@pytest.fixture
def jail_attempt(attempt: Callable[..., Any], backend_name: str) -> Callable[..., Any]:
    if backend_name != "jail":
        pytest.skip(f"{backend_name} has no ctypes: nothing reaches the host's kernel")
    return attempt


async def test_no_disk_is_preallocated_past_the_size_limit(jail_attempt: Any) -> None:
    result = await jail_attempt(FALLOCATE)
    lines = _lines(result.stdout)
    assert lines["keep_size"] == ["-1", "1"], result.stdout  # EPERM
    assert lines["zero_range"] == ["-1", "1"], result.stdout
    assert lines["resvsp64"] == ["-1", "1"], result.stdout
    assert lines["allocated"] == ["0"], result.stdout
    assert lines["plain"] == ["4096"], result.stdout  # posix_fallocate still works


async def test_only_its_own_priority(jail_attempt: Any) -> None:
    result = await jail_attempt(PRIORITY)
    lines = _lines(result.stdout)
    assert lines["pgrp"] == ["-1", "1"], result.stdout
    assert lines["user"] == ["-1", "1"], result.stdout
    assert lines["get_user"] == ["1"], result.stdout
    assert lines["own"] == ["1"], result.stdout


async def test_per_user_kernel_quotas_are_out_of_reach(jail_attempt: Any) -> None:
    result = await jail_attempt(QUOTAS)
    lines = _lines(result.stdout)
    queued, errno = (int(n) for n in lines["queued"])
    assert queued <= 64 and errno == 11, result.stdout  # RLIMIT_SIGPENDING's EAGAIN
    for name in ("timer_create", "inotify_init", "inotify_init1"):
        assert lines[name] == ["-1", "1"], result.stdout


async def test_threads_are_bounded_even_for_root(jail_attempt: Any) -> None:
    reason = cgroup.problem()
    if reason:
        pytest.skip(f"no cgroup bounds the jail's tasks here: {reason}")
    result = await jail_attempt(
        THREADS, limits=Limits(wall_time=30, memory_mb=256, output_bytes=64 * 1024)
    )
    started, err = (int(n) for n in _lines(result.stdout)["threads"])
    assert started < cgroup.MAX_TASKS and err == 11, result.stdout  # EAGAIN


async def test_socket_ioctls_say_nothing_of_the_host(jail_attempt: Any) -> None:
    result = await jail_attempt(SOCKET_IOCTL)
    assert "SIOCGIFCONF 1" in result.stdout, result.stdout


async def test_sockets_keep_their_default_buffers_and_pass_no_descriptors(
    jail_attempt: Any,
) -> None:
    result = await jail_attempt(SOCKET_MEMORY)
    lines = _lines(result.stdout)
    for name in ("SO_SNDBUF", "SO_RCVBUF", "SO_SNDBUFFORCE", "SO_RCVBUFFORCE"):
        assert lines[name] == ["1"], result.stdout  # EPERM
    assert lines["scm_rights"] == ["1"], result.stdout
    assert lines["plain"] == ["plain"], result.stdout


async def test_no_pipe_holds_references_to_pages(jail_attempt: Any) -> None:
    result = await jail_attempt(PIPE_PAGES)
    lines = _lines(result.stdout)
    for name in ("vmsplice", "splice", "tee"):
        assert lines[name] == ["-1", "1"], result.stdout
    assert lines["sendfile"] == ["-1", "38"], result.stdout  # ENOSYS: callers fall back
    assert lines["copied"] == ["4096"], result.stdout
    assert lines["read"] == ["y"], result.stdout  # a pipe still carries what is written


HELD_OPEN = """
import os, time
fds = []
for i in range(8):
    fd = os.open(f"/output/f{i}", os.O_RDWR | os.O_CREAT)
    os.unlink(f"/output/f{i}")  # no name under /output holds it any more
    os.write(fd, b"x" * (1 << 20))
    fds.append(fd)
time.sleep(3)  # several periods of the disk watch
print("held", sum(os.fstat(fd).st_blocks * 512 for fd in fds) >> 20)
"""


async def test_files_removed_but_kept_open_count_against_the_output_limit(
    jail_attempt: Any,
) -> None:
    """8 MiB in files removed from /output and kept open, against 3 MiB of disk: stopped
    (before, only names under /output were counted: 10 x 80 MiB went by)."""
    from codeact import OutputLimits

    outputs = OutputLimits(max_files=1, max_file_bytes=2**20, max_total_bytes=2**20)
    result = await jail_attempt(HELD_OPEN, limits=Limits(wall_time=20), output_limits=outputs)
    assert result.error is not None and result.error.limit == "output_files", (
        result.stdout,
        result.error,
    )
    assert "held" not in result.stdout
