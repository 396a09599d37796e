"""The jail's seccomp filter, run by a small BPF interpreter: what each rule lets through."""

from __future__ import annotations

import errno
import struct

import pytest

from codeact.sandbox.guest.jail import seccomp
from codeact.sandbox.guest.jail.confine import PidFilter
from codeact.sandbox.guest.jail.syscalls import AUDIT_ARCH, SYSCALLS

PID = 4242
CLONE_THREAD, CLONE_NEWUSER, SIGCHLD = 0x00010000, 0x10000000, 17
THREAD_FLAGS = 0x003D0F00  # what glibc's pthread_create passes to clone


def run_filter(program: bytes, *, arch: int, nr: int, args: tuple[int, ...] = ()) -> int:
    """Evaluate a classic BPF program over a `struct seccomp_data`."""
    args = tuple(args) + (0,) * (6 - len(args))
    data = struct.pack("=iIQ6Q", nr, arch, 0, *(a & 0xFFFFFFFFFFFFFFFF for a in args))
    insns: list[tuple[int, int, int, int]] = [
        struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)
    ]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
        elif code == 0x06:  # ret k
            return k
        elif code == 0x54:  # and k
            acc &= k
        elif code == 0x74:  # rsh k
            acc >>= k
        elif code == 0xA4:  # xor k
            acc ^= k
        elif code in (0x15, 0x35, 0x45):  # jeq, jge, jset
            hit = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if hit else jf
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


@pytest.fixture(params=["x86_64", "aarch64"])
def arch(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def verdict(arch: str, name: str, *args: int) -> int:
    program = seccomp.build_filter(arch, seccomp.rules_for(PID))
    return run_filter(program, arch=AUDIT_ARCH[arch], nr=SYSCALLS[arch][name], args=args)


def test_ordinary_calls_are_allowed(arch: str) -> None:
    for name in (
        "read",
        "write",
        "openat",
        "close",
        "mmap",
        "futex",
        "clock_nanosleep",
        "getdents64",
        "newfstatat",
        "epoll_pwait",
        "getrandom",
        "exit_group",
    ):
        assert verdict(arch, name) == seccomp.RET_ALLOW, name


def test_calls_not_on_the_allowlist_are_not_implemented(arch: str) -> None:
    """An allowlist: what the runner does not need, and any call a later kernel adds (as
    6.17 added file_setattr, which sets a file's flags), answers ENOSYS, never runs."""
    program = seccomp.build_filter(arch, seccomp.rules_for(PID))
    for nr in (469, 470, 500, 1023):  # file_setattr, and numbers no kernel has yet
        assert run_filter(program, arch=AUDIT_ARCH[arch], nr=nr) == seccomp.RET_ENOSYS
    for name in ("shmget", "msgget", "semget", "setsid", "setpgid", "io_setup", "connect"):
        number = _number(arch, name)
        if number is not None:
            assert run_filter(program, arch=AUDIT_ARCH[arch], nr=number) == seccomp.RET_ENOSYS, name


def _number(arch: str, name: str) -> int | None:
    table = {
        "x86_64": {
            "shmget": 29,
            "msgget": 68,
            "semget": 64,
            "setsid": 112,
            "setpgid": 109,
            "io_setup": 206,
            "connect": 42,
        },
        "aarch64": {
            "shmget": 194,
            "msgget": 186,
            "semget": 190,
            "setsid": 157,
            "setpgid": 154,
            "io_setup": 0,
            "connect": 203,
        },
    }
    return table[arch].get(name)


def test_threads_are_allowed_but_not_processes(arch: str) -> None:
    assert verdict(arch, "clone", THREAD_FLAGS) == seccomp.RET_ALLOW
    assert verdict(arch, "clone", SIGCHLD) == seccomp.RET_EPERM
    assert verdict(arch, "clone", THREAD_FLAGS | CLONE_NEWUSER) == seccomp.RET_EPERM
    assert verdict(arch, "clone3") == seccomp.RET_ENOSYS
    assert verdict(arch, "execve") == seccomp.RET_EPERM
    if "fork" in SYSCALLS[arch]:
        assert verdict(arch, "fork") == seccomp.RET_EPERM


def test_only_unix_socketpairs(arch: str) -> None:
    assert verdict(arch, "socket", 2, 1, 0) == seccomp.RET_EPERM
    assert verdict(arch, "socket", 1, 1, 0) == seccomp.RET_EPERM
    assert verdict(arch, "socketpair", 1, 1, 0) == seccomp.RET_ALLOW
    assert verdict(arch, "socketpair", 2, 1, 0) == seccomp.RET_EPERM
    assert verdict(arch, "io_uring_setup") == seccomp.RET_EPERM


def test_signals_only_to_itself(arch: str) -> None:
    assert verdict(arch, "kill", PID, 9) == seccomp.RET_ALLOW
    for target in (1, PID + 1, 0, -1, -PID):
        assert verdict(arch, "kill", target, 9) == seccomp.RET_EPERM
    assert verdict(arch, "tgkill", PID, PID + 1, 10) == seccomp.RET_ALLOW
    assert verdict(arch, "tgkill", 1, 1, 9) == seccomp.RET_EPERM
    assert verdict(arch, "tkill", PID, 9) == seccomp.RET_EPERM
    assert verdict(arch, "prlimit64", 0) == seccomp.RET_ALLOW
    assert verdict(arch, "prlimit64", 1) == seccomp.RET_EPERM
    assert verdict(arch, "ptrace", 16, 1) == seccomp.RET_EPERM


def test_file_metadata_cannot_change(arch: str) -> None:
    for name in ("fchmod", "fchmodat", "fchownat", "utimensat", "fsetxattr"):
        assert verdict(arch, name) == seccomp.RET_EPERM
    assert verdict(arch, "ioctl", 3, 0x5412) == seccomp.RET_EPERM  # TIOCSTI
    assert verdict(arch, "ioctl", 3, 0x40086602) == seccomp.RET_EPERM  # FS_IOC_SETFLAGS
    assert verdict(arch, "ioctl", 3, 0x5401) == seccomp.RET_ALLOW  # TCGETS


def test_another_abi_kills_the_process(arch: str) -> None:
    program = seccomp.build_filter(arch, seccomp.rules_for(PID))
    assert run_filter(program, arch=0x40000003, nr=1) == seccomp.RET_KILL_PROCESS  # i386


def test_x32_calls_are_refused() -> None:
    program = seccomp.build_filter("x86_64", seccomp.rules_for(PID))
    result = run_filter(program, arch=AUDIT_ARCH["x86_64"], nr=0x40000000 + 41)
    assert result == seccomp.RET_ENOSYS
    assert seccomp.RET_ENOSYS & 0xFFFF == errno.ENOSYS


def _action(ret: int) -> int:
    """The kernel's ordering of answers: the action bits as a signed number, lower is
    stricter (kill-process is negative, allow the highest)."""
    action = ret & 0xFFFF0000
    return action - (1 << 32) if action & 0x80000000 else action


def stacked(programs: list[bytes], **data: object) -> int:
    """What the kernel answers for a process with `programs` installed in that order: every
    filter runs, newest first, and only a stricter action replaces the answer so far (so
    among equal actions the newest filter's errno stands), as `seccomp_run_filters` does."""
    answer: int | None = None
    for program in reversed(programs):
        ret = run_filter(program, **data)  # type: ignore[arg-type]
        if answer is None or _action(ret) < _action(answer):
            answer = ret
    assert answer is not None
    return answer


_ARGS = (0, 1, 2, 3, PID, PID + 1, -1, -PID, SIGCHLD, THREAD_FLAGS, THREAD_FLAGS | CLONE_NEWUSER,
         0x5412, 0x541C, 0x40086602, 0x5401, 1031, 0o644, 0o755, 0o4755, 0o2755, 0o1777,
         0o7777, 0x40 | 0o4755)  # fmt: skip


def test_waiting_and_lock_filters_together_answer_every_call_as_the_whole_filter(
    arch: str,
) -> None:
    """A pooled child attaches the large filter before its request and stacks a small lock
    after its setup: together they must answer every call, with every argument a rule looks
    at, exactly as the single filter would, or the split would have opened (or shut) a call."""
    rules = seccomp.rules_for(PID)
    whole = seccomp.build_filter(arch, rules)
    parts = [seccomp.waiting_filter(arch, rules), seccomp.lock_filter(arch, rules)]
    audit = AUDIT_ARCH[arch]
    named = sorted(set(SYSCALLS[arch].values()))
    numbers = [*named, *range(0, 600, 7), 1023, 0x40000000 + 41, 0x40000000 + 165]
    checked = 0
    for nr in numbers:
        for index in range(4):  # every argument a rule reads is one of the first four
            for value in _ARGS:
                args = tuple(value if i == index else 0 for i in range(4))
                data = {"arch": audit, "nr": nr, "args": args}
                assert stacked(parts, **data) == run_filter(whole, **data), (nr, args)
                checked += 1
    assert stacked(parts, arch=0x40000003, nr=1) == seccomp.RET_KILL_PROCESS
    assert checked > 20000


def test_the_setup_calls_are_open_only_until_the_lock(arch: str) -> None:
    """The waiting filter lets the confinement's own calls through (mounts, chroot, capset,
    Landlock, seccomp); the lock then answers each as the whole filter does."""
    rules = seccomp.rules_for(PID)
    waiting = seccomp.waiting_filter(arch, rules)
    lock = seccomp.lock_filter(arch, rules)
    audit = AUDIT_ARCH[arch]
    for name in seccomp.SETUP_CALLS:
        nr = SYSCALLS[arch][name]
        assert run_filter(waiting, arch=audit, nr=nr) == seccomp.RET_ALLOW, name
        expected = seccomp.RET_EPERM if name in seccomp.DENIED else seccomp.RET_ENOSYS
        assert stacked([waiting, lock], arch=audit, nr=nr) == expected, name
        assert verdict(arch, name) == expected, name
    assert run_filter(lock, arch=audit, nr=SYSCALLS[arch]["read"]) == seccomp.RET_ALLOW
    assert len(lock) // 8 < 24  # small: attaching it is what the caller waits for


@pytest.mark.parametrize("pid", [1, 2, 4242, 65536, 4_194_304])
def test_a_filter_built_once_and_given_a_pid_is_the_filter_built_for_that_pid(
    arch: str, pid: int
) -> None:
    """The zygote builds each filter once; a child writes its own pid into the comparisons
    that hold it (`confine.PidFilter`). The result must be byte for byte the filter built
    for that pid, and the kill/signal rules must name it."""
    for build in (seccomp.waiting_filter, seccomp.lock_filter, seccomp.build_filter):
        built_once = PidFilter(lambda p, build=build: build(arch, seccomp.rules_for(p)))  # type: ignore[misc]
        assert built_once.for_pid(pid) == build(arch, seccomp.rules_for(pid))
    whole = PidFilter(lambda p: seccomp.build_filter(arch, seccomp.rules_for(p))).for_pid(pid)
    kill = SYSCALLS[arch]["kill"]
    assert run_filter(whole, arch=AUDIT_ARCH[arch], nr=kill, args=(pid,)) == seccomp.RET_ALLOW
    assert run_filter(whole, arch=AUDIT_ARCH[arch], nr=kill, args=(pid + 1,)) != seccomp.RET_ALLOW


def test_a_filter_that_depends_on_the_pid_otherwise_is_refused() -> None:
    with pytest.raises(ValueError, match="length depends"):
        PidFilter(lambda p: b"\0" * 8 * (1 + p % 2))
    with pytest.raises(ValueError, match="other than by comparing"):
        PidFilter(lambda p: struct.pack("=HBBI", 0x15, 0, 0, p + 1))


def test_priority_only_of_this_process(arch: str) -> None:
    """PRIO_USER would renice every process of the host's user, PRIO_PGRP a group."""
    for name in ("setpriority", "getpriority"):
        assert verdict(arch, name, 0, 0, 5) == seccomp.RET_ALLOW
        assert verdict(arch, name, 0, PID, 5) == seccomp.RET_ALLOW
        for which, who in ((2, 0), (1, 0), (2, PID), (0, PID + 1)):
            assert verdict(arch, name, which, who, 5) == seccomp.RET_EPERM, (name, which, who)


def test_disk_is_allocated_only_with_the_size_it_grows(arch: str) -> None:
    assert verdict(arch, "fallocate", 3, 0, 0, 4096) == seccomp.RET_ALLOW
    for mode in (1, 2 | 1, 0x10, 0x10 | 1, 0x20, 0x40):  # KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE...
        assert verdict(arch, "fallocate", 3, mode, 0, 4096) == seccomp.RET_EPERM, mode
    for request in (0x40305828, 0x4030582A, 0x40305839):  # FS_IOC_RESVSP(64), _ZERO_RANGE
        assert verdict(arch, "ioctl", 3, request) == seccomp.RET_EPERM, hex(request)


def test_no_socket_ioctls_but_the_ordinary_ones(arch: str) -> None:
    for request in (0x8900, 0x8912, 0x8915, 0x8927, 0x89FF, 0x5412):
        assert verdict(arch, "ioctl", 3, request) == seccomp.RET_EPERM, hex(request)
    for request in (0x5401, 0x541B, 0x5421, 0x5413, 0x88FF, 0x8A00):  # TCGETS, FIONREAD...
        assert verdict(arch, "ioctl", 3, request) == seccomp.RET_ALLOW, hex(request)


def test_no_per_user_kernel_objects(arch: str) -> None:
    """Counted per user and so shared with the host: inotify instances, POSIX timers."""
    for name in ("inotify_init", "inotify_init1", "timer_create"):
        if name in SYSCALLS[arch]:
            assert verdict(arch, name) == seccomp.RET_EPERM, name


def test_sockets_keep_their_default_buffers(arch: str) -> None:
    """A larger buffer is kernel memory outside RLIMIT_AS (up to 8 MiB a socket)."""
    for option in (7, 8, 32, 33):  # SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE
        assert verdict(arch, "setsockopt", 3, 1, option) == seccomp.RET_EPERM, option
    for option in (2, 9, 20, 21):  # SO_REUSEADDR, SO_KEEPALIVE, SO_RCVTIMEO, SO_SNDTIMEO
        assert verdict(arch, "setsockopt", 3, 1, option) == seccomp.RET_ALLOW, option
    assert verdict(arch, "getsockopt", 3, 1, 7) == seccomp.RET_ALLOW


def test_no_descriptor_passing_and_no_page_references_in_pipes(arch: str) -> None:
    """SCM_RIGHTS keeps sockets alive past RLIMIT_NOFILE; vmsplice, splice and tee put
    references to pages in a pipe, which keep them after munmap or truncation."""
    for name in ("sendmsg", "sendmmsg", "vmsplice", "splice", "tee"):
        assert verdict(arch, name) == seccomp.RET_EPERM, name
    assert verdict(arch, "sendfile") == seccomp.RET_ENOSYS  # shutil falls back on it
    for name in ("sendto", "recvfrom", "recvmsg", "copy_file_range"):
        assert verdict(arch, name) == seccomp.RET_ALLOW, name


def test_nothing_is_read_about_another_pid(arch: str) -> None:
    """getsid, getpgid and the scheduler's getters answered about any pid of the host (ESRCH
    for the others): a program listed the host's processes. Only 0 and its own pid now."""
    for name in (
        "getsid",
        "getpgid",
        "sched_getaffinity",
        "sched_getparam",
        "sched_getscheduler",
        "sched_getattr",
        "sched_rr_get_interval",
        "prlimit64",
        "get_robust_list",
    ):
        assert verdict(arch, name, 0) == seccomp.RET_ALLOW, name
        assert verdict(arch, name, PID) == seccomp.RET_ALLOW, name
        for other in (1, PID + 1, 0xFFFFFFFF):
            assert verdict(arch, name, other) == seccomp.RET_EPERM, (name, other)
    assert verdict(arch, "capget", 0, 0) == seccomp.RET_EPERM  # its pid sits in a struct
    for command in (8, 15):  # F_SETOWN, F_SETOWN_EX: a pid (or group) for SIGIO
        assert verdict(arch, "fcntl", 3, command, 1) == seccomp.RET_EPERM, command
    assert verdict(arch, "fcntl", 3, 9) == seccomp.RET_ALLOW  # F_GETOWN
    assert verdict(arch, "prctl", 0x59616D61, 1) == seccomp.RET_EPERM  # PR_SET_PTRACER
    assert verdict(arch, "prctl", 38, 1) == seccomp.RET_ALLOW  # PR_SET_NO_NEW_PRIVS


RET_EINVAL = 0x00050000 | errno.EINVAL  # SECCOMP_RET_ERRNO: the kernel's answer for no clock


def cpu_clock(pid: int, kind: int) -> int:
    """The clock id of a CPU-time clock (linux/posix-timers.h): a process's for `kind` 0-2, a
    thread's for 4-6 (CPUCLOCK_PERTHREAD), a clock device's descriptor for 3 (CLOCKFD)."""
    return ((~pid) << 3) | kind


def test_no_cpu_clock_of_another_process(arch: str) -> None:
    """clock_gettime on ``((~pid) << 3) | 2`` answered for any pid of the host (EINVAL for
    none): a program listed the host's 58 processes and read each one's CPU time. Only its
    own process's CPU clock now (pid 0 or its own); a thread's CPU clock, which the kernel
    answers only within the caller's process, and every ordinary clock stay open."""
    for name in ("clock_gettime", "clock_getres", "clock_nanosleep"):
        for clock in (0, 1, 2, 3, 4, 7, 11, 0x7FFFFFFF):  # REALTIME ... TAI, and past them
            assert verdict(arch, name, clock) == seccomp.RET_ALLOW, (name, clock)
        for kind in (0, 1, 2):
            for pid in (0, PID):
                assert verdict(arch, name, cpu_clock(pid, kind)) == seccomp.RET_ALLOW, name
            for other in (1, PID - 1, PID + 1, 4_194_304):
                refused = verdict(arch, name, cpu_clock(other, kind))
                assert refused == RET_EINVAL, (name, other, kind)
        for kind in (4, 5, 6, 7):  # a thread's: the kernel's own check keeps it in-process
            for tid in (0, PID, PID + 1, 1):
                assert verdict(arch, name, cpu_clock(tid, kind)) == seccomp.RET_ALLOW, name
        assert verdict(arch, name, cpu_clock(5, 3)) == RET_EINVAL  # CLOCKFD, fd 5
        # An int's upper half is not the kernel's: only the low word counts, either way.
        garbage = 0xDEAD_BEEF << 32
        low = cpu_clock(1, 2) & 0xFFFFFFFF
        assert verdict(arch, name, garbage | low) == RET_EINVAL, name
        assert verdict(arch, name, garbage | 1) == seccomp.RET_ALLOW, name
        assert verdict(arch, name, (0xFFFFFFFF << 32) | 1) == seccomp.RET_ALLOW, name
    for name in ("clock_settime", "clock_adjtime", "timer_create"):
        assert verdict(arch, name, cpu_clock(1, 2)) == seccomp.RET_EPERM, name


def test_no_priority_inheritance_futex_and_no_core_scheduling_of_another_pid(arch: str) -> None:
    """A PI futex's owner is the tid in its word, looked up among all of the host's (EPERM
    where one exists, ESRCH where none): ENOSYS for every PI command, private or not, while
    the futex calls threads and locks make stay open. prctl(PR_SCHED_CORE) names a pid too
    (and sets another process's core-scheduling cookie): refused."""
    ret_enosys = 0x00050000 | errno.ENOSYS
    for command in (6, 7, 8, 11, 12, 13):  # LOCK_PI, UNLOCK_PI, TRYLOCK_PI, ..., LOCK_PI2
        for flags in (0, 128, 256, 128 | 256):  # FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME
            assert verdict(arch, "futex", 0x1000, command | flags) == ret_enosys, command
        assert verdict(arch, "futex", 0x1000, (0xABCD << 32) | command) == ret_enosys
    for command in (0, 1, 3, 4, 5, 9, 10):  # WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP...
        for flags in (0, 128, 256 | 128):
            assert verdict(arch, "futex", 0x1000, command | flags) == seccomp.RET_ALLOW, command
    for name in ("futex_wait", "futex_wake", "futex_requeue", "futex_waitv"):
        assert verdict(arch, name, 0x1000, 1) == seccomp.RET_ALLOW, name
    assert verdict(arch, "prctl", 62, 0, 1) == seccomp.RET_EPERM  # PR_SCHED_CORE, GET of pid 1
    assert verdict(arch, "prctl", 15, 1) == seccomp.RET_ALLOW  # PR_SET_NAME
