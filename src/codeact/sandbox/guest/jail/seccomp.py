"""A seccomp filter built as classic BPF bytes and installed through ctypes.

`build_filter` compiles the jail's rules (`seccomp_rules`: the calls refused, and those allowed
only with some arguments) on top of the allowlist (`syscalls.ALLOWED`); every call neither
names answers ENOSYS. A system call from another ABI (i386's ``int 0x80``) kills the process;
x86_64's x32 calls get ENOSYS. A pooled child installs the filter in two parts, so that its
own confinement can still make its setup calls: `waiting_filter`, then `lock_filter`.

This module runs inside the jail's zygote: standard library only.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Sequence

from .seccomp_rules import DENIED, Rule, rules_for
from .syscalls import ALLOWED, AUDIT_ARCH, SYSCALLS, current_arch

__all__ = [
    "DENIED",
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
_AND_K, _RSH_K, _XOR_K = 0x54, 0x74, 0xA4
_RET_K = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
RET_EPERM = _RET_ERRNO | errno.EPERM
RET_ENOSYS = _RET_ERRNO | errno.ENOSYS
RET_EINVAL = _RET_ERRNO | errno.EINVAL

# A clock id with the sign bit set (linux/posix-timers.h) is a CPU-time clock, ``((~pid) << 3) |
# type``: of a process (type 0-2, pid 0 meaning itself) or, with CPUCLOCK_PERTHREAD, of a
# thread; type 3 (CLOCKFD) is a clock device's descriptor, ``(~fd) << 3 | 3``.
_CLOCK_SIGN, _CPUCLOCK_PERTHREAD = 0x80000000, 4

# Offsets in struct seccomp_data: nr, arch, instruction pointer, then six 64-bit arguments.
_NR, _ARCH = 0, 4
_X32_SYSCALL_BIT = 0x40000000

# What a ``clone`` rule reads in the flags (linux/sched.h): threads only, no namespaces.
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

# prctl and seccomp(2) (linux/prctl.h, linux/seccomp.h), for `install`.
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1


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
    if rule.kind == "clock":
        return _clock_block(rule)
    if rule.kind == "arg_not_in":
        # The refused values, then the refused ranges [low, high): every refusal jumps to the
        # refusal (`error`) at the end, just after the allow. A `mask` keeps only its bits.
        n, m = len(rule.values), len(rule.ranges)
        out = [_insn(_LD_W_ABS, _arg_low(rule.arg))]
        if rule.mask is not None:
            out.append(_insn(_AND_K, rule.mask))
        for i, value in enumerate(rule.values):
            out.append(_insn(_JEQ_K, value, jt=n - i + 2 * m))
        for j, (low, high) in enumerate(rule.ranges):
            left = 2 * (m - j)  # instructions from this range's first to the allow
            out.append(_insn(_JGE_K, low, jf=1))  # below: the next range
            out.append(_insn(_JGE_K, high, jf=left - 1))  # at or above `high`: the next range
        out += [_insn(_RET_K, RET_ALLOW), _insn(_RET_K, _RET_ERRNO | rule.error)]
        return out
    raise ValueError(f"unknown seccomp rule kind {rule.kind!r}")


def _clock_block(rule: Rule) -> list[bytes]:
    """A clock id (argument `arg`): the ordinary clocks (not negative) and a thread's CPU clock
    (the kernel answers those only within the caller's own process) are allowed; a process's
    CPU clock only when its pid is one of `values` (0 and its own), every other negative id
    EINVAL, the kernel's answer for a clock that does not exist. ``~id >> 3`` is the pid, so
    the pid appears as itself in a comparison, as `confine.PidFilter` needs."""
    n = len(rule.values)
    out = [
        _insn(_LD_W_ABS, _arg_low(rule.arg)),
        _insn(_JSET_K, _CLOCK_SIGN, jt=1),  # negative: a CPU or descriptor clock
        _insn(_RET_K, RET_ALLOW),
        _insn(_JSET_K, _CPUCLOCK_PERTHREAD, jt=n + 3),  # a thread's: to the allow at the end
        _insn(_XOR_K, 0xFFFFFFFF),
        _insn(_RSH_K, 3),  # the pid (or descriptor) the id encodes
    ]
    for i, value in enumerate(rule.values):
        out.append(_insn(_JEQ_K, value, jt=n - i))  # over the rest and the EINVAL
    return [*out, _insn(_RET_K, RET_EINVAL), _insn(_RET_K, RET_ALLOW)]


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
    # The allowlist first: the calls a program makes all the time (read, write, mmap have low
    # numbers) leave the filter after a few comparisons; futex, as frequent, has a rule (no
    # priority-inheritance commands) that comes before them.
    program += _rule_blocks(numbers, [rule for rule in rules if rule.syscall in _EARLY])
    program += _allow_groups(sorted({numbers[n] for n in allowed if n in numbers} - ruled))
    program += _rule_blocks(numbers, [rule for rule in rules if rule.syscall not in _EARLY])
    # Anything else, a call added in a later kernel included: "not implemented", so that the
    # C library falls back to an older call where it has one.
    program.append(_insn(_RET_K, RET_ENOSYS))
    if len(program) > 4096:
        raise ValueError("seccomp filter is longer than the kernel allows")
    return b"".join(program)


def _rule_blocks(numbers: dict[str, int], rules: Sequence[Rule]) -> list[bytes]:
    program: list[bytes] = []
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
    return program


#: Ruled calls as frequent as the allowlist's, whose rules come before it.
_EARLY = frozenset({"futex"})

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
