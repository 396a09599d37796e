"""Landlock through ctypes: limit the file system (and TCP) a process can reach, for good.

A ruleset names the kinds of access it *handles*; anything handled and not granted by a rule is
refused by the kernel from `restrict_self()` on, for the calling thread and everything it later
creates, with no way back. What each ABI version adds:

    1  file access (read, write, create, remove, execute...)
    2  REFER: linking or renaming across directories
    3  TRUNCATE
    4  TCP bind and connect          <- network rules
    5  IOCTL_DEV: ioctl on devices
    6  scopes: abstract UNIX sockets and signals to processes outside the sandbox

This module runs inside the jail's zygote as well as on the host (for `abi_version`): standard
library only.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Enforced", "ReadRules", "abi_version", "add_rules", "enforce"]

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# File-system access rights.
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
# Network (ABI 4) and scopes (ABI 6).
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ = READ_FILE | READ_DIR
WRITE = (
    READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SYM | REFER | TRUNCATE
)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


@dataclass(frozen=True)
class Enforced:
    """What `enforce` made the kernel enforce (reported by the jail and `codeact doctor`)."""

    abi: int
    filesystem: bool
    tcp: bool
    scopes: bool


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or disabled."""
    result = _libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(result), 0)


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock: {what} failed: {os.strerror(err)}")
    return result


def _create(abi: int) -> int:
    if abi < 1:
        raise OSError(errno.ENOSYS, "landlock is not available in this kernel")
    fields = [_handled_fs(abi)]
    if abi >= 4:
        fields.append(NET_BIND_TCP | NET_CONNECT_TCP)
    if abi >= 6:
        fields.append(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL)
    attr = ctypes.create_string_buffer(struct.pack(f"={len(fields)}Q", *fields))
    return _check(
        _libc.syscall(_CREATE_RULESET, attr, ctypes.c_size_t(len(attr.raw)), 0),
        "create_ruleset",
    )


class ReadRules:
    """Read-only rules for open (O_PATH) descriptors, encoded once, for a ruleset each
    process makes with them (`ruleset`): the jail's zygote prepares the 200-odd rules of the
    interpreter's files, and each child only makes the system calls (encoding them in every
    child cost it about 0.4 ms of CPU)."""

    def __init__(self, fds: Iterable[int], abi: int) -> None:
        self.abi = abi
        handled = _handled_fs(abi)
        attrs = [_path_rule(fd, READ & handled) for fd in fds]
        self._attrs = ctypes.create_string_buffer(b"".join(attrs), max(1, 12 * len(attrs)))
        base = ctypes.addressof(self._attrs)
        self._pointers = [ctypes.c_void_p(base + 12 * i) for i in range(len(attrs))]

    def ruleset(self) -> int:
        """A new ruleset (its descriptor) with these rules."""
        fd = _create(self.abi)
        try:
            for attr in self._pointers:
                _check(_libc.syscall(_ADD_RULE, fd, _RULE_PATH_BENEATH, attr, 0), "add_rule")
        except BaseException:
            os.close(fd)
            raise
        return fd


def add_rules(
    ruleset_fd: int, *, read: Iterable[int | str] = (), write: Iterable[int | str] = (), abi: int
) -> None:
    """Allow reading beneath `read` and reading + writing beneath `write` in a ruleset."""
    handled_fs = _handled_fs(abi)
    for paths, rights in ((read, READ), (write, WRITE)):
        for path in paths:
            _add_path(ruleset_fd, path, rights & handled_fs)


def enforce(ruleset_fd: int, abi: int) -> Enforced:
    """Restrict this process (and its future threads) to `ruleset_fd`; irreversible."""
    _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _check(_libc.syscall(_RESTRICT_SELF, ruleset_fd, 0), "restrict_self")
    return Enforced(abi=abi, filesystem=True, tcp=abi >= 4, scopes=abi >= 6)


def _add_path(ruleset: int, path: int | str, rights: int) -> None:
    fd = path if isinstance(path, int) else os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        attr = ctypes.create_string_buffer(_path_rule(fd, rights))
        _check(_libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, attr, 0), "add_rule")
    finally:
        if not isinstance(path, int):
            os.close(fd)


def _path_rule(fd: int, rights: int) -> bytes:
    """The `struct landlock_path_beneath_attr` granting `rights` beneath open `fd`."""
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        rights &= _FILE_RIGHTS  # a rule on a file may only carry file rights
    return struct.pack("=Qi", rights, fd)
