"""The jail's seccomp rules: which system calls are refused, and which only with some arguments.

The filter (`seccomp` compiles these rules to BPF) is an allowlist: the calls a Python program
and its C extensions need (`syscalls.ALLOWED`: files inside the jail's tree, memory, threads,
time, polling, signals to itself) are allowed; every call it does not know, including any a
later kernel adds (as 6.17 added ``file_setattr``, which changes a file's flags), answers
ENOSYS, so the C library falls back where it can. On top, these are refused by name with
EPERM, or allowed only with some arguments (the other walls are the read-only binds, Landlock
and rlimits):

* new processes and programs: ``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD`` (threads
  stay allowed) or with a namespace flag, ``execve``/``execveat``; ``clone3`` answers ENOSYS so
  the C library falls back to ``clone``, whose flags the filter can read;
* sockets: ``socket`` entirely, ``socketpair`` unless AF_UNIX (asyncio's self-pipe);
  ``io_uring`` too, since its requests never pass through this filter;
* signals and access to other processes: ``kill``, ``tgkill``, ``rt_(tg)sigqueueinfo`` unless
  aimed at the sandbox itself, ``tkill``, pidfds, ``ptrace``, ``process_vm_*``, ``kcmp``,
  ``prlimit64``, the scheduler calls, ``getsid`` and ``getpgid`` on another pid (each
  answered whether the pid exists), another process's CPU clock (EINVAL, as for none),
  ``capget``, ``F_SETOWN``, ``PR_SET_PTRACER``, ``PR_SCHED_CORE`` and priority-inheritance
  futexes (ENOSYS: their owner is a tid looked up among the host's);
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

Refusals return EPERM, so Python raises a clean ``PermissionError``.

This module runs inside the jail's zygote: standard library only.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

__all__ = ["DENIED", "Rule", "rules_for"]

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
_F_SETOWN, _F_SETOWN_EX = 8, 15
_PR_SET_PTRACER, _PR_SCHED_CORE = 0x59616D61, 62
# The priority-inheritance futex commands (linux/futex.h: LOCK_PI, UNLOCK_PI, TRYLOCK_PI,
# WAIT_REQUEUE_PI, CMP_REQUEUE_PI, LOCK_PI2), the command being the op without its
# FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME bits.
_FUTEX_PI_COMMANDS, _FUTEX_COMMAND = (6, 7, 8, 11, 12, 13), ~(128 | 256) & 0xFFFFFFFF
#: Calls whose first argument is a pid they answer about: allowed for 0 and the process itself.
_ABOUT_A_PID = (
    "getsid", "getpgid", "sched_getaffinity", "sched_getparam", "sched_getscheduler",
    "sched_getattr", "sched_rr_get_interval",
)  # fmt: skip
#: Calls whose first argument is a clock id, which may name another process's CPU clock.
_CLOCK_READERS = ("clock_gettime", "clock_getres", "clock_nanosleep")
_REFUSED_IOCTLS = (
    _TIOCSTI, _TIOCLINUX, _FS_IOC_SETFLAGS, _FS_IOC32_SETFLAGS, _FS_IOC_FSSETXATTR,
    *_FS_IOC_PREALLOCATE,
)  # fmt: skip

#: setuid, setgid and sticky: refused in the mode of a file or folder the program creates.
_SPECIAL_MODE_BITS = 0o7000

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
    EPERM), ``arg_not_in`` (refused with `error`, EPERM unless told, when it is one of `values`
    or in one of the half-open `ranges`; with a `mask`, only the bits it keeps count),
    ``arg_mask`` (EPERM when argument `arg` has any bit of ``values[0]`` set),
    ``clock`` (argument `arg` a clock id: EINVAL for a process's CPU clock but of a pid in
    `values`).
    """

    syscall: str
    kind: str
    arg: int = 0
    values: tuple[int, ...] = ()
    also: tuple[tuple[int, tuple[int, ...]], ...] = ()
    ranges: tuple[tuple[int, int], ...] = ()
    mask: int | None = None
    error: int = errno.EPERM


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
        # Calls that read about a pid answer about any of the host's (ESRCH tells which
        # exist: a program listed the host's processes, their sessions, groups, CPUs and
        # scheduling): only about itself (0 or its own pid), as getpriority.
        *(Rule(name, "arg_in", 0, (0, self_pid)) for name in _ABOUT_A_PID),
        # A negative clock id is a CPU-time clock, ``((~pid) << 3) | type``, and the kernel
        # answers a process's about any pid (EINVAL where none is): a program listed the
        # host's processes and read each one's CPU time. A process's CPU clock only of itself
        # (pid 0 or its own); a thread's stays open (Python's pthread_getcpuclockid), since the
        # kernel answers those only within the caller's process. clock_settime, clock_adjtime
        # and timer_create are refused whole (DENIED).
        *(Rule(name, "clock", 0, (0, self_pid)) for name in _CLOCK_READERS),
        # capget's pid sits in a struct the filter cannot read; nothing of Python's needs it.
        Rule("capget", "deny"),
        # PR_SET_PTRACER names a pid (EINVAL where none is): the same question by another way.
        # PR_SCHED_CORE too (ESRCH where none is), and it sets or copies another process's
        # core-scheduling cookie (kernels built with CONFIG_SCHED_CORE).
        Rule("prctl", "arg_not_in", 0, (_PR_SET_PTRACER, _PR_SCHED_CORE)),
        # A priority-inheritance futex names its owner by the tid in the futex word, and
        # the kernel looks that tid up among all of the host's (EPERM for one that exists,
        # ESRCH for none, and a waiter attached to another process's task). Only glibc's
        # PTHREAD_PRIO_INHERIT mutexes use them, never Python: ENOSYS, "no PI futexes here".
        Rule("futex", "arg_not_in", 1, _FUTEX_PI_COMMANDS, mask=_FUTEX_COMMAND, error=errno.ENOSYS),
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
        # F_SETOWN(_EX) names a pid or group (ESRCH where none is) that the descriptor's
        # SIGIO, of any number F_SETSIG picks, then goes to: a signal past the kill rules.
        Rule("fcntl", "arg_not_in", 1, (_F_SETPIPE_SZ, _F_SETOWN, _F_SETOWN_EX)),
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
