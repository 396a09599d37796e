"""A seccomp filter built as classic BPF bytes and installed through ctypes.

The filter is an allowlist: the calls a Python program and its C extensions need
(`syscalls.ALLOWED`: files inside the jail's tree, memory, threads, time, polling, signals to
itself) are allowed; every call it does not know, including any a later kernel adds (as
6.17 added ``file_setattr``, which changes a file's flags), answers ENOSYS, so the C library
falls back where it can. On top, these are refused by name with EPERM, or allowed only with
some arguments (the other walls are the read-only binds, Landlock and rlimits):

* new processes and programs: ``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD`` (threads
  stay allowed) or with a namespace flag, ``execve``/``execveat``; ``clone3`` answers ENOSYS so
  the C library falls back to ``clone``, whose flags the filter can read;
* sockets: ``socket`` entirely, ``socketpair`` unless AF_UNIX (asyncio's self-pipe);
  ``io_uring`` too, since its requests never pass through this filter;
* signals and access to other processes: ``kill``, ``tgkill``, ``rt_(tg)sigqueueinfo`` unless
  aimed at the sandbox itself, ``tkill``, pidfds, ``ptrace``, ``process_vm_*``, ``kcmp``,
  ``prlimit64`` and the scheduler calls on another pid;
* the kernel's administrative surface: namespaces, mounts, modules, kexec, reboot, swap, BPF,
  perf, userfaultfd, keyrings, clocks, host names, file handles, ``TIOCSTI``...;
* changing a file's metadata (mode, owner, times, extended attributes, chattr flags), which
  Landlock does not cover: a program could otherwise chmod a file it may only read;
* setuid, setgid and sticky bits in the mode of a new file or folder (``open``/``openat``/
  ``creat``/``mkdir``/``mknod`` with ``0o4755``...; ``openat2``, whose mode the filter cannot
  read, answers ENOSYS): the jail runs as the host's user, so a setuid file left in a
  read-write mount would let anyone who runs it act as that user (as root, when it is root);
  and no ``umask`` change, so nothing it creates is writable by the host's other users;
* memory the address-space limit does not count: ``memfd_create`` answers ENOSYS (each memfd
  held up to RLIMIT_FSIZE of RAM, 256 of them tens of GiB), pipes keep their default size
  (no ``F_SETPIPE_SZ``) and sockets theirs (no ``SO_SNDBUF``/``SO_RCVBUF`` and their
  ``FORCE`` forms); no descriptor is passed in a message (``sendmsg``/``sendmmsg``: one
  in flight outlives its close and RLIMIT_NOFILE); and no pipe holds references to pages
  (``vmsplice``, ``splice``, ``tee``: a page kept after ``munmap`` or truncation), nor a
  socket (``sendfile`` answers ENOSYS: Python's callers fall back to read and write).

A system call from another ABI (i386's ``int 0x80``) kills the process; x86_64's x32 calls get
ENOSYS. Refusals return EPERM, so Python raises a clean ``PermissionError``.

This module runs inside the jail's zygote: standard library only.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from .syscalls import ALLOWED, AUDIT_ARCH, SYSCALLS, current_arch

__all__ = [
    "SETUP_CALLS",
    "Rule",
    "build_filter",
    "install",
    "lock_filter",
    "rules_for",
    "waiting_filter",
]

# BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
RET_EPERM = _RET_ERRNO | errno.EPERM
RET_ENOSYS = _RET_ERRNO | errno.ENOSYS

# Offsets in struct seccomp_data: nr, arch, instruction pointer, then six 64-bit arguments.
_NR, _ARCH = 0, 4
_X32_SYSCALL_BIT = 0x40000000

_CLONE_THREAD = 0x00010000
_CLONE_NAMESPACES = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)
_AF_UNIX = 1
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C
_F_SETPIPE_SZ = 1031
# SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE (asm-generic/socket.h, x86_64 and
# aarch64 alike): refused at every level, since the jail has only AF_UNIX sockets, whose
# buffers are all SOL_SOCKET's.
_SOCKET_BUFFER_OPTIONS = (7, 8, 32, 33)
# chattr: file flags and project attributes, which Landlock does not cover either.
_FS_IOC_SETFLAGS, _FS_IOC32_SETFLAGS, _FS_IOC_FSSETXATTR = 0x40086602, 0x40046602, 0x401C5820

# The generic preallocation ioctls (fs/ioctl.c: FS_IOC_RESVSP, _RESVSP64, _UNRESVSP,
# _UNRESVSP64, _ZERO_RANGE): fallocate with FALLOC_FL_KEEP_SIZE by another name.
_FS_IOC_PREALLOCATE = (0x40305828, 0x4030582A, 0x40305829, 0x4030582B, 0x40305839)
# The socket ioctls (linux/sockios.h, 0x8900-0x89ff): on any socket, even a socketpair, they
# answer about the host's network (SIOCGIFCONF lists its interfaces and addresses).
_SOCKIOS = (0x8900, 0x8A00)
_PRIO_PROCESS = 0
_REFUSED_IOCTLS = (
    _TIOCSTI, _TIOCLINUX, _FS_IOC_SETFLAGS, _FS_IOC32_SETFLAGS, _FS_IOC_FSSETXATTR,
    *_FS_IOC_PREALLOCATE,
)  # fmt: skip

#: setuid, setgid and sticky: refused in the mode of a file or folder the program creates.
_SPECIAL_MODE_BITS = 0o7000

_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1

#: Refused outright (EPERM).
DENIED = (
    "fork", "vfork", "execve", "execveat", "socket", "tkill", "pidfd_send_signal",
    "pidfd_open", "pidfd_getfd", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "process_madvise", "process_mrelease", "unshare", "setns", "mount", "umount2",
    "pivot_root", "chroot", "mount_setattr", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
    "syslog", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "fanotify_init", "inotify_init", "inotify_init1", "timer_create",
    "keyctl", "add_key", "request_key", "iopl",
    "ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
    "setdomainname", "open_by_handle_at", "name_to_handle_at", "personality",
    "migrate_pages", "move_pages", "vhangup", "lookup_dcookie", "modify_ldt", "uselib",
    "sysfs", "_sysctl", "create_module", "get_kernel_syms", "query_module", "nfsservctl",
    # Landlock does not cover a file's metadata: without these, a program could change the
    # mode, owner, times or attributes of a file it may only read.
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "futimesat", "utimensat", "setxattr", "lsetxattr", "fsetxattr",
    "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat",
    # Memory the address-space limit does not count. Descriptors passed in a message
    # (SCM_RIGHTS, which the filter cannot see inside sendmsg's struct) stay alive in flight
    # after the program closes them, past RLIMIT_NOFILE, each socket with its buffers. A pipe
    # filled by vmsplice or splice holds references to the pages themselves: a page unmapped
    # after vmsplice (a whole 2 MiB transparent huge page for one byte) or a file's page cache
    # after the file is truncated stays in RAM that nothing counts; tee copies such references.
    "sendmsg", "sendmmsg", "vmsplice", "splice", "tee",
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """What to do with one system call.

    kind: ``deny`` (EPERM), ``enosys``, ``clone`` (threads only), ``arg_in`` (allowed only when
    argument `arg` is one of `values`, and each argument of `also` one of its values, else
    EPERM), ``arg_not_in`` (EPERM when it is one of `values` or in one of the half-open
    `ranges`), ``arg_mask`` (EPERM when argument `arg` has any bit of ``values[0]`` set).
    """

    syscall: str
    kind: str
    arg: int = 0
    values: tuple[int, ...] = ()
    also: tuple[tuple[int, tuple[int, ...]], ...] = ()
    ranges: tuple[tuple[int, int], ...] = ()


def rules_for(self_pid: int) -> list[Rule]:
    """The jail's rules for a process whose pid is `self_pid` (signals may target only it)."""
    me = (self_pid,)
    rules = [Rule(name, "deny") for name in DENIED]
    rules += [
        Rule("clone3", "enosys"),
        Rule("clone", "clone"),
        Rule("socketpair", "arg_in", 0, (_AF_UNIX,)),
        Rule("kill", "arg_in", 0, me),
        Rule("tgkill", "arg_in", 0, me),
        Rule("rt_sigqueueinfo", "arg_in", 0, me),
        Rule("rt_tgsigqueueinfo", "arg_in", 0, me),
        Rule("prlimit64", "arg_in", 0, (0, self_pid)),
        Rule("sched_setaffinity", "arg_in", 0, (0, self_pid)),
        Rule("sched_setscheduler", "arg_in", 0, (0, self_pid)),
        Rule("sched_setparam", "arg_in", 0, (0, self_pid)),
        Rule("sched_setattr", "arg_in", 0, (0, self_pid)),
        # Only this process's priority: `which` must be PRIO_PROCESS, or PRIO_USER would renice
        # every process of the host's user (other sandboxes, the host itself) and PRIO_PGRP a
        # whole process group. getpriority alike: another process's is none of its business.
        Rule("setpriority", "arg_in", 1, (0, self_pid), also=((0, (_PRIO_PROCESS,)),)),
        Rule("getpriority", "arg_in", 1, (0, self_pid), also=((0, (_PRIO_PROCESS,)),)),
        Rule("get_robust_list", "arg_in", 0, (0, self_pid)),
        # Disk outside RLIMIT_FSIZE and the /output watch's sizes: only plain fallocate (mode
        # 0, what posix_fallocate uses), which grows the file's size and so meets the limit;
        # FALLOC_FL_KEEP_SIZE would allocate any amount of disk behind a file of size 0.
        Rule("fallocate", "arg_in", 1, (0,)),
        # The mode argument of calls that create a file or folder (the flags of an open without
        # O_CREAT carry no mode: the C library and Python pass 0 or 0o777 there).
        Rule("open", "arg_mask", 2, (_SPECIAL_MODE_BITS,)),
        Rule("openat", "arg_mask", 3, (_SPECIAL_MODE_BITS,)),
        Rule("creat", "arg_mask", 1, (_SPECIAL_MODE_BITS,)),
        Rule("mkdir", "arg_mask", 1, (_SPECIAL_MODE_BITS,)),
        Rule("mkdirat", "arg_mask", 2, (_SPECIAL_MODE_BITS,)),
        Rule("mknod", "arg_mask", 1, (_SPECIAL_MODE_BITS,)),
        Rule("mknodat", "arg_mask", 2, (_SPECIAL_MODE_BITS,)),
        Rule("openat2", "enosys"),  # its mode sits in a struct the filter cannot read
        # The umask stays the zygote's (022): no file the program creates is writable by
        # other users of the host (who could change it in a read-write mount afterwards).
        Rule("umask", "deny"),
        # RAM outside RLIMIT_AS: memfds (C libraries fall back on ENOSYS), larger pipes.
        Rule("memfd_create", "enosys"),
        Rule("fcntl", "arg_not_in", 1, (_F_SETPIPE_SZ,)),
        # Kernel memory outside RLIMIT_AS: a socket's buffer may grow to twice wmem_max
        # (8 MiB a socket on a stock kernel, 2 GiB over RLIMIT_NOFILE's 256 descriptors); at
        # the default size (wmem_default, 208 KiB) they hold a bounded amount (docs/backends.md).
        Rule("setsockopt", "arg_not_in", 2, _SOCKET_BUFFER_OPTIONS),
        # sendfile puts references to a file's pages in a socket or a pipe, as splice does:
        # one byte a page is charged as one byte, and a page truncated away stays in RAM
        # (about 260 MiB of pages behind 55 MiB of buffers, measured). shutil, socket.sendfile
        # and asyncio fall back to read and write on ENOSYS.
        Rule("sendfile", "enosys"),
        Rule("ioctl", "arg_not_in", 1, _REFUSED_IOCTLS, ranges=(_SOCKIOS,)),
    ]
    return rules


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def _arg_low(index: int) -> int:
    # The low 32 bits of argument `index` (little-endian machines only: x86_64, aarch64). Every
    # argument compared here is a 32-bit int or flags word that the kernel truncates anyway.
    return 16 + 8 * index


def _block(rule: Rule) -> list[bytes]:
    """Instructions run when the syscall number matched; every path ends in a return."""
    if rule.kind == "deny":
        return [_insn(_RET_K, RET_EPERM)]
    if rule.kind == "enosys":
        return [_insn(_RET_K, RET_ENOSYS)]
    if rule.kind == "clone":
        return [
            _insn(_LD_W_ABS, _arg_low(0)),
            _insn(_JSET_K, _CLONE_NAMESPACES, jt=2),  # a namespace flag: refuse
            _insn(_JSET_K, _CLONE_THREAD, jt=0, jf=1),  # a thread: allow; a process: refuse
            _insn(_RET_K, RET_ALLOW),
            _insn(_RET_K, RET_EPERM),
        ]
    if rule.kind == "arg_mask":
        return [
            _insn(_LD_W_ABS, _arg_low(rule.arg)),
            _insn(_JSET_K, rule.values[0], jt=1),  # a refused bit: EPERM
            _insn(_RET_K, RET_ALLOW),
            _insn(_RET_K, RET_EPERM),
        ]
    if rule.kind == "arg_in":
        # Each condition in turn: a value that matches jumps past its EPERM to the next one.
        out = []
        for arg, values in ((rule.arg, rule.values), *rule.also):
            n = len(values)
            out.append(_insn(_LD_W_ABS, _arg_low(arg)))
            for i, value in enumerate(values):
                out.append(_insn(_JEQ_K, value, jt=n - i))  # over the rest and the EPERM
            out.append(_insn(_RET_K, RET_EPERM))
        out.append(_insn(_RET_K, RET_ALLOW))
        return out
    if rule.kind == "arg_not_in":
        # The refused values, then the refused ranges [low, high): every refusal jumps to the
        # EPERM at the end, just after the allow.
        n, m = len(rule.values), len(rule.ranges)
        out = [_insn(_LD_W_ABS, _arg_low(rule.arg))]
        for i, value in enumerate(rule.values):
            out.append(_insn(_JEQ_K, value, jt=n - i + 2 * m))
        for j, (low, high) in enumerate(rule.ranges):
            left = 2 * (m - j)  # instructions from this range's first to the allow
            out.append(_insn(_JGE_K, low, jf=1))  # below: the next range
            out.append(_insn(_JGE_K, high, jf=left - 1))  # at or above `high`: the next range
        out += [_insn(_RET_K, RET_ALLOW), _insn(_RET_K, RET_EPERM)]
        return out
    raise ValueError(f"unknown seccomp rule kind {rule.kind!r}")


def build_filter(arch: str, rules: Sequence[Rule], allowed: Sequence[str] | None = None) -> bytes:
    """The BPF program (``struct sock_filter[]`` bytes) for `rules` on `arch`: each rule's
    call as the rule says, the `allowed` calls (default: the allowlist, `ALLOWED`) allowed,
    every other call ENOSYS."""
    numbers = SYSCALLS[arch]
    if allowed is None:
        allowed = ALLOWED[arch]
    program = _syscall_of(arch)
    if arch == "x86_64":
        program += [_insn(_JGE_K, _X32_SYSCALL_BIT, jf=1), _insn(_RET_K, RET_ENOSYS)]
    ruled = {numbers[rule.syscall] for rule in rules if rule.syscall in numbers}
    # The allowlist first: the calls a program makes all the time (read, write, futex, mmap
    # have low numbers) leave the filter after a few comparisons.
    program += _allow_groups(sorted({numbers[n] for n in allowed if n in numbers} - ruled))
    for rule in rules:
        nr = numbers.get(rule.syscall)
        if nr is None:
            continue  # this architecture does not have the call at all
        block = _block(rule)
        if len(block) > 255:
            raise ValueError(f"seccomp rule for {rule.syscall} is too long")
        # The accumulator holds the syscall number here: a block is entered only on a match,
        # and every block returns, so skipping one leaves the number in place for the next.
        program.append(_insn(_JEQ_K, nr, jf=len(block)))
        program += block
    # Anything else, a call added in a later kernel included: "not implemented", so that the
    # C library falls back to an older call where it has one.
    program.append(_insn(_RET_K, RET_ENOSYS))
    if len(program) > 4096:
        raise ValueError("seccomp filter is longer than the kernel allows")
    return b"".join(program)


#: The calls the child's own confinement makes after its request arrives (bind mounts, chroot,
#: dropping capabilities, Landlock, and this second filter): the final filter refuses them all.
SETUP_CALLS = (
    "mount", "chroot", "capset", "landlock_add_rule", "landlock_restrict_self", "seccomp",
)  # fmt: skip


def waiting_filter(arch: str, rules: Sequence[Rule]) -> bytes:
    """The filter a child installs before the rest of its confinement: `build_filter`'s,
    except that the `SETUP_CALLS` are allowed, since the confinement still needs them.

    Attaching the whole filter (about 475 instructions, checked and compiled by the kernel)
    costs about 0.5 ms; a pooled child does it before its run, off the caller's path. Nothing of a
    program runs under it alone: `lock_filter` is stacked on it after the setup."""
    _check_setup_calls(arch)
    setup = set(SETUP_CALLS)
    kept = [rule for rule in rules if rule.syscall not in setup]
    return build_filter(arch, kept, (*ALLOWED[arch], *SETUP_CALLS))


def _check_setup_calls(arch: str) -> None:
    missing = [name for name in SETUP_CALLS if name not in SYSCALLS[arch]]
    if missing:  # a setup call the waiting filter could not allow would fail later
        raise ValueError(f"no {arch} number for the setup calls {missing}")


def lock_filter(arch: str, rules: Sequence[Rule]) -> bytes:
    """The filter stacked on `waiting_filter` once the setup is done: each of the
    `SETUP_CALLS` answered as `build_filter` answers it, every other call left to the first.

    The kernel runs every filter of a process and takes the strictest answer (kill, then
    an errno, then allow; the newest filter's errno among errnos), so the two together
    decide every call exactly as `build_filter`'s program alone (a test checks each call)."""
    _check_setup_calls(arch)
    numbers = SYSCALLS[arch]
    ruled = {rule.syscall: rule for rule in rules}
    program = _syscall_of(arch)
    for name in SETUP_CALLS:
        nr = numbers[name]
        rule = ruled.get(name)
        if name in ALLOWED[arch] or (rule is not None and rule.kind not in ("deny", "enosys")):
            raise ValueError(f"{name} is a setup call: the final filter must refuse it")
        answer = RET_EPERM if rule is not None and rule.kind == "deny" else RET_ENOSYS
        program += [_insn(_JEQ_K, nr, jf=1), _insn(_RET_K, answer)]
    program.append(_insn(_RET_K, RET_ALLOW))
    return b"".join(program)


def _syscall_of(arch: str) -> list[bytes]:
    """A filter's start: a call from another ABI kills the process; then the accumulator holds
    the call's number."""
    return [
        _insn(_LD_W_ABS, _ARCH),
        _insn(_JEQ_K, AUDIT_ARCH[arch], jt=1),
        _insn(_RET_K, RET_KILL_PROCESS),
        _insn(_LD_W_ABS, _NR),
    ]


def _allow_groups(numbers: Sequence[int]) -> list[bytes]:
    """Allow each of `numbers`: runs of comparisons that jump to one shared allow (a jump
    reaches at most 255 instructions ahead, hence the runs)."""
    out: list[bytes] = []
    for start in range(0, len(numbers), 200):
        run = numbers[start : start + 200]
        n = len(run)
        for i, nr in enumerate(run[:-1]):
            out.append(_insn(_JEQ_K, nr, jt=n - 1 - i))  # to the allow after the run
        out.append(_insn(_JEQ_K, run[-1], jf=1))  # the last one: allow, or skip past it
        out.append(_insn(_RET_K, RET_ALLOW))
    return out


# Made when the zygote imports this module, inherited by every child (see confine._LIBC).
_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.syscall.restype = ctypes.c_long
_LIBC.prctl  # noqa: B018  # resolved here, not in the child after its request


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program: bytes) -> None:
    """Install `program` for this process (all threads); irreversible."""
    libc = _LIBC
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: PR_SET_NO_NEW_PRIVS failed: {os.strerror(err)}")
    arch = current_arch()
    if arch is None:
        raise OSError(errno.ENOSYS, "seccomp: this architecture is not supported")
    nr = SYSCALLS[arch]["seccomp"]
    result = libc.syscall(
        nr, _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC, ctypes.byref(fprog)
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: installing the filter failed: {os.strerror(err)}")
