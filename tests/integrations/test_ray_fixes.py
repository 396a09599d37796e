"""Ray integration: CPU counted over the actors' process trees, an unreachable address refused
at once, episode tasks that leave no sandbox folders (run to the end or interrupted), and the
approval handler's failure as docs/ray.md quotes it. A local Ray of two CPUs for the module."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")


from codeact.bench.throughput import tree_cpu_seconds  # noqa: E402
from codeact.ray import CodeActPool  # noqa: E402
from codeact.ray.episodes import run_episodes  # noqa: E402
from codeact.sandbox.registry import backend_availability  # noqa: E402
from codeact.testing import Reply, ScriptedChat, code_call  # noqa: E402
from codeact.workloads import order_totals  # noqa: E402

from .local_ray import local_ray_for  # noqa: E402

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def trees() -> set[str]:
    """The per-process /output trees of other processes (Ray's workers) in the temp dir."""
    own = f"codeact-output-{os.getpid()}-"
    return {
        e for e in os.listdir(tempfile.gettempdir())
        if e.startswith("codeact-output-") and not e.startswith(own)
    }  # fmt: skip


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    with local_ray_for(__name__):
        yield


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )


def test_an_unreachable_address_is_refused_at_once() -> None:
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    pool = _run(
        "from codeact.ray import CodeActPool\n"
        f"CodeActPool(tools=[], address={address!r}, num_actors=1)\n"
    )
    cli = _run(
        "from codeact.cli import main\n"
        f"main(['bench', 'sandbox', '--ray', {address!r}, '--runs', '5'])\n"
    )
    assert time.monotonic() - started < 50
    said = f"could not join the Ray cluster at '{address}': it cannot be reached"
    assert "ConfigurationError: " + said in pool.stderr, pool.stderr[-2000:]
    assert cli.returncode != 0 and said in cli.stderr, cli.stderr[-2000:]


@pytest.mark.skipif(
    not backend_availability("jail").available, reason="the jail backend cannot run here"
)
async def test_actor_cpu_counts_the_jail_backends_processes(local_ray: None) -> None:
    async with CodeActPool(num_actors=1, backend="jail") as pool:
        await pool.map(["print(1)"] * 20)  # warm
        (actor,) = await pool.actors()
        tree_before = tree_cpu_seconds(actor.pid)
        (before,) = await pool.actors()
        assert all(r.ok for r in await pool.map(["print(1)"] * 100))
        (after,) = await pool.actors()
        tree = tree_cpu_seconds(actor.pid) - tree_before
    # What the actor says is its whole tree's (measured around it, from here), not its own.
    assert after.cpu_s - before.cpu_s >= 0.7 * tree, (after.cpu_s - before.cpu_s, tree)


ANSWER = "\n".join(f"{n}: {t:.2f}" for n, t in order_totals.expected_totals().items())
WRITES = "open('/output/x.txt', 'w').write('x')\n"


def test_episode_tasks_leave_no_folders(local_ray: None) -> None:
    before = trees()
    script: list[Reply] = [code_call(WRITES + order_totals.PROGRAM), ANSWER + "\nsum: 334.15"]
    records = run_episodes(
        lambda: ScriptedChat(script), wirings=("codeact",), runs=3, backend="wasm"
    )
    assert [(r.correct, r.error) for r in records] == [(True, None)] * 3
    assert trees() - before == set()


def test_interrupted_episode_tasks_leave_no_folders(local_ray: None) -> None:
    before = trees()
    slow = "import time\nfor _ in range(1200):\n    time.sleep(0.1)\n"  # 2 minutes
    script: list[Reply] = [code_call(WRITES + slow), "done"]
    running = threading.Event()
    running.set()

    def interrupt() -> None:  # Ctrl-C once a task's sandbox runs, and only while it does
        for _ in range(1200):
            if trees() - before or not running.is_set():
                break
            time.sleep(0.1)
        time.sleep(1)
        if running.is_set() and trees() - before:  # never a stray Ctrl-C into pytest
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    # Ctrl-C raises here even where it was ignored (a background job, as CI may start us).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_episodes(lambda: ScriptedChat(script), wirings=("codeact",), runs=2, backend="wasm")
    finally:
        running.clear()
        signal.signal(signal.SIGINT, inherited)
    # The cancelled tasks remove their folders as they end: at once on a quiet machine,
    # seconds later on a busy one; well before their programs would have ended (2 minutes).
    waited = time.monotonic()
    while trees() - before and time.monotonic() - waited < 45:
        time.sleep(0.2)
    assert trees() - before == set()


def test_docs_quote_the_approval_handlers_failure_as_the_pool_gives_it() -> None:
    # The pool's denial names the exception's type only, as in one process (what a handler
    # raises is the driver's: a webhook's URL, a token); tests/integrations/test_ray_pool.py
    # checks the pool says so.
    text = " ".join((ROOT / "docs" / "ray.md").read_text().split())
    assert '("the approval handler failed (RuntimeError)"' in text
    assert "RuntimeError: ...)" not in text
