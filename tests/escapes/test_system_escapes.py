"""The ways out of a process: the host's files, /proc, /sys and /etc, its environment, writing
outside the sandbox, symlink and `..` tricks, starting processes and signalling others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

READ = """
def read(path):
    try:
        with open(path, "rb") as f:
            data = f.read(4096)
        print("READ", path, data[:200])
    except Exception as e:
        print("refused", path, type(e).__name__)
"""

FILE_ATTEMPTS = {
    "canary_by_absolute_path": 'read("@CANARY_FILE@")',
    "etc_files": 'for p in ["/etc/passwd", "/etc/shadow", "/etc/hostname", "/etc/hosts", '
    '"/etc/resolv.conf"]:\n    read(p)',
    "proc_self_environ_and_cmdline": 'for p in ["/proc/self/environ", "/proc/self/cmdline", '
    '"/proc/self/maps", "/proc/self/status"]:\n    read(p)',
    "proc_of_the_host_process": 'for p in ["environ", "cmdline", "maps", "mem", "status"]:\n'
    '    read("/proc/@HOST_PID@/" + p)\nread("/proc/1/environ")',
    "proc_parent_and_root": """
import os
read(f"/proc/{os.getppid()}/environ")
read("/proc/self/root@CANARY_FILE@")
read("/proc/self/cwd/canary.txt")
""",
    "sys_and_dev": 'for p in ["/sys/class/net/lo/address", "/sys/kernel/mm/transparent_hugepage/enabled", '
    '"/dev/mem", "/dev/kmsg", "/dev/tty"]:\n    read(p)',
    "home_directory_and_ssh_keys": """
import os
for p in ["@HOME@", "@HOME@/.ssh", "@CANARY_DIR@", "/", "/tmp", "."]:
    try:
        print("LISTED", p, os.listdir(p)[:20])
    except Exception as e:
        print("refused", p, type(e).__name__)
read("@HOME@/.ssh/id_rsa")
read("@HOME@/.bash_history")
""",
    "dot_dot_from_the_working_directory": """
import os
print("cwd", os.getcwd() if hasattr(os, "getcwd") else None)
rel = "../" * 40 + "@CANARY_FILE@".lstrip("/")
read(rel)
try:
    os.chdir("@CANARY_DIR@")
    read("canary.txt")
except Exception as e:
    print("chdir", type(e).__name__)
""",
    "symlink_and_hardlink_to_the_canary": """
import os
for make in (os.symlink, os.link):
    for where in ("@PWNED@", "@PWNED_TMP@", "link-here"):
        try:
            make("@CANARY_FILE@", where)
            print("linked", where)
            read(where)
        except Exception as e:
            print(make.__name__, where, type(e).__name__)
""",
    "o_path_descriptor_then_proc_fd": """
import os
try:
    fd = os.open("@CANARY_FILE@", getattr(os, "O_PATH", 0))
    read(f"/proc/self/fd/{fd}")
    read(f"/dev/fd/{fd}")
except Exception as e:
    print("O_PATH", type(e).__name__)
""",
    "write_outside_the_sandbox": """
for target in ["@PWNED@", "@PWNED_TMP@", "@CANARY_FILE@"]:
    try:
        with open(target, "a") as f:
            f.write("pwned")
        print("WROTE", target)
    except Exception as e:
        print("refused", target, type(e).__name__)
""",
    "change_or_remove_the_canary": """
import os
for name, act in [
    ("unlink", lambda: os.unlink("@CANARY_FILE@")),
    ("truncate", lambda: os.truncate("@CANARY_FILE@", 0)),
    ("chmod", lambda: os.chmod("@CANARY_FILE@", 0)),
    ("rename", lambda: os.rename("@CANARY_FILE@", "@PWNED@")),
    ("utime", lambda: os.utime("@CANARY_FILE@", (0, 0))),
]:
    try:
        act()
        print("DONE", name)
    except Exception as e:
        print(name, type(e).__name__)
""",
    "make_directories_fifos_and_devices": """
import os
for name, act in [
    ("mkdir", lambda: os.mkdir("@PWNED@")),
    ("mkfifo", lambda: os.mkfifo("@PWNED_TMP@")),
    ("mknod", lambda: os.mknod("@PWNED@", 0o600 | 0o020000, os.makedev(1, 3))),
    ("tempfile", lambda: __import__("tempfile").mkstemp()),
]:
    try:
        print("MADE", name, act())
    except Exception as e:
        print(name, type(e).__name__)
""",
}

ENV_ATTEMPTS = {
    "os_environ": 'import os\nprint(dict(os.environ), os.environ.get("@CANARY_ENV@"), os.getenv("@CANARY_ENV@"))',
    "environb_and_posix_environ": """
import os, posix
print(getattr(os, "environb", None), posix.environ)
""",
    "environ_of_the_host_through_proc": 'read("/proc/@HOST_PID@/environ")\nread("/proc/self/environ")',
}

PROCESS_ATTEMPTS = {
    "subprocess_run": 'import subprocess\nprint(subprocess.run(["cat", "@CANARY_FILE@"], capture_output=True))',
    "os_system": 'import os\nprint("status", os.system("touch @PWNED@; cat @CANARY_FILE@"))',
    "os_popen": 'import os\nprint(os.popen("cat @CANARY_FILE@").read())',
    "exec_a_program": 'import os\nos.execv("/bin/cat", ["cat", "@CANARY_FILE@"])',
    "posix_spawn": 'import os\nprint(os.posix_spawn("/bin/touch", ["touch", "@PWNED@"], {}))',
    "fork_bomb": """
import os
children = 0
try:
    while children < 1000:
        if os.fork() == 0:
            os._exit(0)
        children += 1
finally:
    print("forked", children)
""",
    "pty_spawn": 'import pty\npty.spawn(["/bin/sh", "-c", "cat @CANARY_FILE@"])',
    "kill_the_host_and_its_child": """
import os, signal
for pid in (@HOST_PID@, @SENTINEL_PID@):
    for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
        try:
            os.kill(pid, sig)
            print("SIGNALLED", pid, sig)
        except Exception as e:
            print("kill", pid, type(e).__name__)
""",
    "kill_every_process_and_the_group": """
import os, signal
for name, act in [
    ("kill -1", lambda: os.kill(-1, signal.SIGKILL)),
    ("killpg host", lambda: os.killpg(os.getpgid(@HOST_PID@), signal.SIGKILL)),
    ("kill -pgid", lambda: os.kill(-@HOST_PID@, signal.SIGKILL)),
    ("kill parent", lambda: os.kill(os.getppid(), signal.SIGKILL)),
]:
    try:
        act()
        print("SIGNALLED", name)
    except Exception as e:
        print(name, type(e).__name__)
""",
    "pidfd_and_session_tricks": """
import os, signal
for name, act in [
    ("pidfd", lambda: signal.pidfd_send_signal(os.pidfd_open(@SENTINEL_PID@), signal.SIGKILL)),
    ("setpgid into the host's group", lambda: os.setpgid(0, os.getpgid(@HOST_PID@))),
    ("kill 0 after", lambda: os.kill(0, signal.SIGKILL)),
]:
    try:
        act()
        print("SIGNALLED", name)
    except Exception as e:
        print(name, type(e).__name__)
""",
    "ptrace_and_process_memory": """
import os
read("/proc/@HOST_PID@/mem")
try:
    import ctypes
    print("ptrace", ctypes.CDLL(None).ptrace(16, @HOST_PID@, 0, 0))
except Exception as e:
    print("ptrace", type(e).__name__)
""",
    # The calls the jail's own setup makes after a request (bind mounts, chroot, capset,
    # Landlock, another seccomp filter): the filter that was attached before the request still
    # allows them; the lock stacked on it must refuse each before the program runs.
    "kernel_setup_calls": """
import os, platform, sys
# The import policy is a courtesy, not a wall: step past it as an attacker would.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ImportPolicy"]
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
numbers = {
    "x86_64": {"mount": 165, "chroot": 161, "capset": 126, "landlock_create_ruleset": 444,
               "landlock_add_rule": 445, "landlock_restrict_self": 446, "seccomp": 317,
               "umount2": 166, "pivot_root": 155, "unshare": 272},
    "aarch64": {"mount": 40, "chroot": 51, "capset": 91, "landlock_create_ruleset": 444,
                "landlock_add_rule": 445, "landlock_restrict_self": 446, "seccomp": 277,
                "umount2": 39, "pivot_root": 41, "unshare": 97},
}[platform.machine()]
os.makedirs("/output/m", exist_ok=True)
header = (ctypes.c_uint32 * 2)(0x20080522, 0)
caps = (ctypes.c_uint32 * 6)(0xFFFFFFFF, 0xFFFFFFFF, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0)
attempts = {
    "mount": (b"/", b"/output/m", None, 4096 | 16384, None),
    "chroot": (b"/output",),
    "capset": (ctypes.byref(header), ctypes.byref(caps)),
    "landlock_create_ruleset": (None, 0, 1),
    "landlock_add_rule": (3, 1, None, 0),
    "landlock_restrict_self": (3, 0),
    "seccomp": (2, 0, ctypes.byref(ctypes.c_uint32(0x7FFF0000))),  # GET_ACTION_AVAIL
    "umount2": (b"/", 2),
    "pivot_root": (b"/output", b"/output/m"),
    "unshare": (0x10000000 | 0x00020000,),
}
for name, args in attempts.items():
    result = libc.syscall(numbers[name], *args)
    err = ctypes.get_errno()
    if result >= 0:
        print("CHANGED", name, result)
    else:
        print(name, "refused", os.strerror(err))
""",
    "raise_resource_limits_and_priority": """
import os, resource
for name, act in [
    ("rlimit", lambda: resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))),
    ("nice", lambda: os.nice(-10)),
    ("setpriority host", lambda: os.setpriority(os.PRIO_PROCESS, @HOST_PID@, 19)),
]:
    try:
        act()
        print("CHANGED", name)
    except Exception as e:
        print(name, type(e).__name__)
""",
}


ALL_ATTEMPTS = {**FILE_ATTEMPTS, **ENV_ATTEMPTS, **PROCESS_ATTEMPTS}

# Never run without a sandbox: they would harm the machine (a fork bomb, SIGKILL to every
# process or to the test run's own process group), or need privileges to show anything.
NO_CONTROL = {
    "fork_bomb",
    "kill_every_process_and_the_group",
    "pidfd_and_session_tricks",
    "etc_files",
    "sys_and_dev",
    "proc_self_environ_and_cmdline",
    "home_directory_and_ssh_keys",
    "make_directories_fifos_and_devices",
    "ptrace_and_process_memory",
    "raise_resource_limits_and_priority",
    "kernel_setup_calls",
    "pty_spawn",
    "environb_and_posix_environ",
}


def _refusals_only(stdout: str, *words: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.split(" ", 1)[0] in words]


@pytest.mark.parametrize("name", list(FILE_ATTEMPTS))
async def test_host_files_stay_out_of_reach(attempt: Callable[..., Any], name: str) -> None:
    result = await attempt(READ + FILE_ATTEMPTS[name])
    out = result.stdout
    # What a program claims is not the test (a WASI chmod is a no-op that reports success):
    # the host's checks are. Claims of writes, links and listings must still be false.
    assert not _refusals_only(out, "WROTE", "MADE", "linked", "LISTED"), out
    assert "root:x:0:0" not in out
    reads = _refusals_only(out, "READ")
    # /etc and /proc of the sandbox itself may exist in some backends, never the host's.
    assert not [r for r in reads if "canary" in r or "/proc/@HOST_PID@" in r], reads


@pytest.mark.parametrize("name", list(ENV_ATTEMPTS))
async def test_host_environment_stays_out_of_reach(attempt: Callable[..., Any], name: str) -> None:
    await attempt(READ + ENV_ATTEMPTS[name])


@pytest.mark.parametrize("name", list(PROCESS_ATTEMPTS))
async def test_no_process_can_be_started_or_signalled(
    attempt: Callable[..., Any], name: str
) -> None:
    result = await attempt(READ + PROCESS_ATTEMPTS[name])
    assert not _refusals_only(result.stdout, "SIGNALLED", "CHANGED"), result.stdout
    assert "forked 0" in result.stdout or "fork" not in name


@pytest.mark.parametrize("name", [n for n in ALL_ATTEMPTS if n not in NO_CONTROL])
def test_attempt_escapes_without_a_sandbox(
    unsandboxed: Callable[[str], list[str]], name: str
) -> None:
    """The same attempt, run by a plain interpreter on the host, does reach the host: so the
    attempt is real, and its failure above is the sandbox's doing."""
    assert unsandboxed(READ + ALL_ATTEMPTS[name])


async def test_the_jails_setup_calls_are_refused_to_the_program(
    attempt: Callable[..., Any], backend_name: str
) -> None:
    """The jail attaches most of its seccomp filter before the request and the part that
    refuses its own setup calls after the setup: each of those calls, made by the program
    through ctypes, must come back refused (and the attempt must have run to say so)."""
    if backend_name != "jail":
        pytest.skip("the jail's seccomp filter; other backends have no ctypes to the kernel")
    result = await attempt(READ + PROCESS_ATTEMPTS["kernel_setup_calls"])
    assert result.ok, result.error
    assert not _refusals_only(result.stdout, "CHANGED"), result.stdout
    refused = {line.split()[0] for line in result.stdout.splitlines() if " refused " in line}
    assert refused == {
        "mount", "chroot", "capset", "landlock_create_ruleset", "landlock_add_rule",
        "landlock_restrict_self", "seccomp", "umount2", "pivot_root", "unshare",
    }, result.stdout  # fmt: skip
