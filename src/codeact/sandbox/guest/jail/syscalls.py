"""System call numbers the jail's seccomp filter names, for the architectures it supports.

Taken from the kernel's uapi headers (``asm/unistd_64.h`` for x86_64, ``asm-generic/unistd.h``
for aarch64) for exactly the calls the filter mentions; calls newer than those headers
(``fchmodat2`` 452, ``setxattrat`` 463, ``removexattrat`` 466) have one number everywhere.
aarch64 has no ``fork``/``vfork`` and no x86-only calls: a name missing from an
architecture's table simply does not exist there.

This module runs inside the jail's zygote as well as on the host: standard library only.
"""

from __future__ import annotations

import platform

__all__ = ["ALLOWED", "AUDIT_ARCH", "SYSCALLS", "current_arch"]

#: ``AUDIT_ARCH_*`` value the kernel reports in ``seccomp_data.arch``.
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# fmt: off
X86_64 = {
    "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "fchown": 93,
    "lchown": 94, "fchownat": 260, "utime": 132, "utimes": 235, "futimesat": 261,
    "utimensat": 280, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197,
    "lremovexattr": 198, "fremovexattr": 199, "setxattrat": 463, "removexattrat": 466,
    "socket": 41, "socketpair": 53, "clone": 56, "clone3": 435, "fork": 57, "vfork": 58,
    "execve": 59, "execveat": 322, "kill": 62, "tkill": 200, "tgkill": 234,
    "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "pidfd_send_signal": 424,
    "pidfd_open": 434, "pidfd_getfd": 438, "ptrace": 101, "process_vm_readv": 310,
    "process_vm_writev": 311, "kcmp": 312, "process_madvise": 440, "process_mrelease": 448,
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
    "chroot": 161, "mount_setattr": 442, "move_mount": 429, "open_tree": 428, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320, "reboot": 169,
    "swapon": 167, "swapoff": 168, "acct": 163, "quotactl": 179, "quotactl_fd": 443,
    "syslog": 103, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "fanotify_init": 300, "keyctl": 250, "add_key": 248, "request_key": 249, "iopl": 172,
    "ioperm": 173, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305,
    "adjtimex": 159, "sethostname": 170, "setdomainname": 171, "open_by_handle_at": 304,
    "name_to_handle_at": 303, "personality": 135, "prlimit64": 302, "ioctl": 16,
    "migrate_pages": 256, "move_pages": 279, "vhangup": 153, "lookup_dcookie": 212,
    "modify_ldt": 154, "uselib": 134, "sysfs": 139, "_sysctl": 156, "create_module": 174,
    "get_kernel_syms": 177, "query_module": 178, "nfsservctl": 180, "setpriority": 141,
    "sched_setaffinity": 203, "sched_setscheduler": 144, "sched_setparam": 142,
    "sched_setattr": 314, "landlock_create_ruleset": 444, "landlock_add_rule": 445,
    "landlock_restrict_self": 446, "seccomp": 317, "capset": 126, "sendmsg": 46,
    "sendmmsg": 307, "sendfile": 40, "splice": 275, "tee": 276, "vmsplice": 278,
}

AARCH64 = {
    "fchmod": 52, "fchmodat": 53, "fchmodat2": 452, "fchown": 55, "fchownat": 54,
    "utimensat": 88, "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14,
    "lremovexattr": 15, "fremovexattr": 16, "setxattrat": 463, "removexattrat": 466,
    "socket": 198, "socketpair": 199, "clone": 220, "clone3": 435, "execve": 221,
    "execveat": 281, "kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138,
    "rt_tgsigqueueinfo": 240, "pidfd_send_signal": 424, "pidfd_open": 434, "pidfd_getfd": 438,
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272,
    "process_madvise": 440, "process_mrelease": 448, "unshare": 97, "setns": 268, "mount": 40,
    "umount2": 39, "pivot_root": 41, "chroot": 51, "mount_setattr": 442, "move_mount": 429,
    "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "init_module": 105, "finit_module": 273, "delete_module": 106, "kexec_load": 104,
    "kexec_file_load": 294, "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89,
    "quotactl": 60, "quotactl_fd": 443, "syslog": 116, "bpf": 280, "perf_event_open": 241,
    "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "fanotify_init": 262, "keyctl": 219, "add_key": 217, "request_key": 218,
    "settimeofday": 170, "clock_settime": 112, "clock_adjtime": 266, "adjtimex": 171,
    "sethostname": 161, "setdomainname": 162, "open_by_handle_at": 265,
    "name_to_handle_at": 264, "personality": 92, "prlimit64": 261, "ioctl": 29,
    "migrate_pages": 238, "move_pages": 239, "vhangup": 58, "lookup_dcookie": 18,
    "nfsservctl": 42, "setpriority": 140, "sched_setaffinity": 122, "sched_setscheduler": 119,
    "sched_setparam": 118, "sched_setattr": 274, "landlock_create_ruleset": 444,
    "landlock_add_rule": 445, "landlock_restrict_self": 446, "seccomp": 277, "capset": 91,
    "sendmsg": 211, "sendmmsg": 269, "sendfile": 71, "splice": 76, "tee": 77, "vmsplice": 75,
}

# The calls a Python program and its C extensions use (files inside the jail's tree, memory,
# threads, time, signals to itself, polling, the relay's socket), generated from the same
# headers (calls past 450 have one number everywhere). Only these and the calls with rules
# in `seccomp_rules.rules_for` are allowed; a call missing here (a new one included) gets ENOSYS.
X86_64_ALLOWED = {
    "read": 0, "write": 1, "open": 2, "close": 3, "stat": 4, "fstat": 5, "lstat": 6, "poll": 7,
    "lseek": 8, "mmap": 9, "mprotect": 10, "munmap": 11, "brk": 12, "rt_sigaction": 13,
    "rt_sigprocmask": 14, "rt_sigreturn": 15, "pread64": 17, "pwrite64": 18, "readv": 19,
    "writev": 20, "access": 21, "pipe": 22, "select": 23, "sched_yield": 24, "mremap": 25,
    "msync": 26, "mincore": 27, "madvise": 28, "dup": 32, "dup2": 33, "pause": 34,
    "nanosleep": 35, "getitimer": 36, "alarm": 37, "setitimer": 38, "getpid": 39,
    "sendto": 44, "recvfrom": 45, "recvmsg": 47, "shutdown": 48, "getsockname": 51,
    "getpeername": 52, "setsockopt": 54, "getsockopt": 55, "exit": 60, "wait4": 61, "uname": 63,
    "fcntl": 72, "flock": 73, "fsync": 74, "fdatasync": 75, "truncate": 76, "ftruncate": 77,
    "getdents": 78, "getcwd": 79, "chdir": 80, "fchdir": 81, "rename": 82, "mkdir": 83,
    "rmdir": 84, "creat": 85, "link": 86, "unlink": 87, "symlink": 88, "readlink": 89,
    "umask": 95, "gettimeofday": 96, "getrlimit": 97, "getrusage": 98, "sysinfo": 99,
    "times": 100, "getuid": 102, "getgid": 104, "geteuid": 107, "getegid": 108, "getppid": 110,
    "getpgrp": 111, "getgroups": 115, "getresuid": 118, "getresgid": 120, "getpgid": 121,
    "getsid": 124, "capget": 125, "rt_sigpending": 127, "rt_sigtimedwait": 128,
    "rt_sigsuspend": 130, "sigaltstack": 131, "mknod": 133, "statfs": 137, "fstatfs": 138,
    "getpriority": 140, "sched_getparam": 143, "sched_getscheduler": 145,
    "sched_get_priority_max": 146, "sched_get_priority_min": 147, "sched_rr_get_interval": 148,
    "mlock": 149, "munlock": 150, "mlockall": 151, "munlockall": 152, "prctl": 157,
    "arch_prctl": 158, "sync": 162, "gettid": 186, "readahead": 187, "getxattr": 191,
    "lgetxattr": 192, "fgetxattr": 193, "listxattr": 194, "llistxattr": 195, "flistxattr": 196,
    "time": 201, "futex": 202, "sched_getaffinity": 204, "epoll_create": 213, "getdents64": 217,
    "set_tid_address": 218, "restart_syscall": 219, "fadvise64": 221, "timer_create": 222,
    "timer_settime": 223, "timer_gettime": 224, "timer_getoverrun": 225, "timer_delete": 226,
    "clock_gettime": 228, "clock_getres": 229, "clock_nanosleep": 230, "exit_group": 231,
    "epoll_wait": 232, "epoll_ctl": 233, "get_mempolicy": 239, "waitid": 247, "inotify_init": 253,
    "inotify_add_watch": 254, "inotify_rm_watch": 255, "openat": 257, "mkdirat": 258,
    "mknodat": 259, "newfstatat": 262, "unlinkat": 263, "renameat": 264, "linkat": 265,
    "symlinkat": 266, "readlinkat": 267, "faccessat": 269, "pselect6": 270, "ppoll": 271,
    "set_robust_list": 273, "get_robust_list": 274,
    "sync_file_range": 277, "epoll_pwait": 281, "signalfd": 282,
    "timerfd_create": 283, "eventfd": 284, "fallocate": 285, "timerfd_settime": 286,
    "timerfd_gettime": 287, "signalfd4": 289, "eventfd2": 290, "epoll_create1": 291, "dup3": 292,
    "pipe2": 293, "inotify_init1": 294, "preadv": 295, "pwritev": 296, "recvmmsg": 299,
    "syncfs": 306, "getcpu": 309, "sched_getattr": 315, "renameat2": 316,
    "getrandom": 318, "memfd_create": 319, "membarrier": 324, "mlock2": 325,
    "copy_file_range": 326, "preadv2": 327, "pwritev2": 328, "pkey_mprotect": 329,
    "pkey_alloc": 330, "pkey_free": 331, "statx": 332, "rseq": 334, "close_range": 436,
    "openat2": 437, "faccessat2": 439, "epoll_pwait2": 441, "futex_waitv": 449, "cachestat": 451,
    "map_shadow_stack": 453, "futex_wake": 454, "futex_wait": 455, "futex_requeue": 456,
    "mseal": 462, "getxattrat": 464, "listxattrat": 465, "file_getattr": 468,
}

AARCH64_ALLOWED = {
    "getxattr": 8, "lgetxattr": 9, "fgetxattr": 10, "listxattr": 11, "llistxattr": 12,
    "flistxattr": 13, "getcwd": 17, "eventfd2": 19, "epoll_create1": 20, "epoll_ctl": 21,
    "epoll_pwait": 22, "dup": 23, "dup3": 24, "fcntl": 25, "inotify_init1": 26,
    "inotify_add_watch": 27, "inotify_rm_watch": 28, "flock": 32, "mknodat": 33, "mkdirat": 34,
    "unlinkat": 35, "symlinkat": 36, "linkat": 37, "renameat": 38, "statfs": 43, "fstatfs": 44,
    "truncate": 45, "ftruncate": 46, "fallocate": 47, "faccessat": 48, "chdir": 49, "fchdir": 50,
    "openat": 56, "close": 57, "pipe2": 59, "getdents64": 61, "lseek": 62, "read": 63,
    "write": 64, "readv": 65, "writev": 66, "pread64": 67, "pwrite64": 68, "preadv": 69,
    "pwritev": 70, "pselect6": 72, "ppoll": 73, "signalfd4": 74,
    "readlinkat": 78, "newfstatat": 79, "fstat": 80, "sync": 81,
    "fsync": 82, "fdatasync": 83, "sync_file_range": 84, "timerfd_create": 85,
    "timerfd_settime": 86, "timerfd_gettime": 87, "capget": 90, "exit": 93, "exit_group": 94,
    "waitid": 95, "set_tid_address": 96, "futex": 98, "set_robust_list": 99,
    "get_robust_list": 100, "nanosleep": 101, "getitimer": 102, "setitimer": 103,
    "timer_create": 107, "timer_gettime": 108, "timer_getoverrun": 109, "timer_settime": 110,
    "timer_delete": 111, "clock_gettime": 113, "clock_getres": 114, "clock_nanosleep": 115,
    "sched_getscheduler": 120, "sched_getparam": 121, "sched_getaffinity": 123,
    "sched_yield": 124, "sched_get_priority_max": 125, "sched_get_priority_min": 126,
    "sched_rr_get_interval": 127, "restart_syscall": 128, "sigaltstack": 132,
    "rt_sigsuspend": 133, "rt_sigaction": 134, "rt_sigprocmask": 135, "rt_sigpending": 136,
    "rt_sigtimedwait": 137, "rt_sigreturn": 139, "getpriority": 141, "getresuid": 148,
    "getresgid": 150, "times": 153, "getpgid": 155, "getsid": 156, "getgroups": 158, "uname": 160,
    "getrlimit": 163, "getrusage": 165, "umask": 166, "prctl": 167, "getcpu": 168,
    "gettimeofday": 169, "getpid": 172, "getppid": 173, "getuid": 174, "geteuid": 175,
    "getgid": 176, "getegid": 177, "gettid": 178, "sysinfo": 179, "getsockname": 204,
    "getpeername": 205, "sendto": 206, "recvfrom": 207, "setsockopt": 208, "getsockopt": 209,
    "shutdown": 210, "recvmsg": 212, "readahead": 213, "brk": 214, "munmap": 215,
    "mremap": 216, "mmap": 222, "fadvise64": 223, "mprotect": 226, "msync": 227, "mlock": 228,
    "munlock": 229, "mlockall": 230, "munlockall": 231, "mincore": 232, "madvise": 233,
    "get_mempolicy": 236, "recvmmsg": 243, "wait4": 260, "syncfs": 267,
    "sched_getattr": 275, "renameat2": 276, "getrandom": 278, "memfd_create": 279,
    "membarrier": 283, "mlock2": 284, "copy_file_range": 285, "preadv2": 286, "pwritev2": 287,
    "pkey_mprotect": 288, "pkey_alloc": 289, "pkey_free": 290, "statx": 291, "rseq": 293,
    "close_range": 436, "openat2": 437, "faccessat2": 439, "epoll_pwait2": 441,
    "futex_waitv": 449, "cachestat": 451, "map_shadow_stack": 453, "futex_wake": 454,
    "futex_wait": 455, "futex_requeue": 456, "mseal": 462, "getxattrat": 464, "listxattrat": 465,
    "file_getattr": 468,
}
# fmt: on

for _known, _allowed in ((X86_64, X86_64_ALLOWED), (AARCH64, AARCH64_ALLOWED)):
    assert all(_known.get(n, v) == v for n, v in _allowed.items()), "conflicting numbers"

SYSCALLS = {"x86_64": {**X86_64, **X86_64_ALLOWED}, "aarch64": {**AARCH64, **AARCH64_ALLOWED}}
#: The allowlist, by name, per architecture.
ALLOWED = {"x86_64": tuple(X86_64_ALLOWED), "aarch64": tuple(AARCH64_ALLOWED)}


def current_arch() -> str | None:
    """``x86_64`` or ``aarch64`` when this machine is one the filter supports, else None."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "x86_64"
    if machine in ("aarch64", "arm64"):
        return "aarch64"
    return None
