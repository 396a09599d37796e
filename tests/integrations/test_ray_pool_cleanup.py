"""`CodeActPool` leaves no sandbox folders behind: a closed pool's actors remove theirs before
they are killed, and the folders of an actor that died are removed by its replacement on the
same node. A local Ray of two CPUs for the module, shut down after it."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")


from codeact.ray import CodeActPool  # noqa: E402

from .local_ray import local_ray_for  # noqa: E402

WRITES = "open('/output/x.txt', 'w').write('x')\n1"


def folders_of(pid: int) -> list[str]:
    """The /output trees of process `pid` in the temp directory (the actors share ours),
    each with what is left in it (so that a failure says what stayed)."""
    prefix = f"codeact-output-{pid}-"
    found = []
    for entry in os.listdir(tempfile.gettempdir()):
        if entry.startswith(prefix):
            inside = [
                os.path.relpath(os.path.join(top, name), tempfile.gettempdir())
                for top, dirs, files in os.walk(os.path.join(tempfile.gettempdir(), entry))
                for name in dirs + files
            ]
            found.append(f"{entry} {sorted(inside)}")
    return found


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    with local_ray_for(__name__):
        yield


async def test_a_closed_pool_leaves_no_folders(local_ray: None) -> None:
    async with CodeActPool(num_actors=2) as pool:
        pids = [a.pid for a in await pool.actors()]
        results = await pool.map([WRITES] * 10)
        assert all(r.ok for r in results)
        assert all(folders_of(pid) for pid in pids)  # each actor made its tree
    assert {pid: folders_of(pid) for pid in pids} == {pid: [] for pid in pids}


def test_close_without_a_loop_leaves_no_folders(local_ray: None) -> None:
    async def run() -> tuple[CodeActPool, list[int]]:
        pool = CodeActPool(num_actors=1)
        await pool.start()
        assert (await pool.execute(WRITES)).ok
        return pool, [a.pid for a in await pool.actors()]

    pool, pids = asyncio.run(run())
    pool.close()
    assert [folders_of(pid) for pid in pids] == [[]]


async def test_the_folders_of_an_actor_that_died_are_removed(local_ray: None) -> None:
    async with CodeActPool(num_actors=2) as pool:
        actors = await pool.actors()
        assert all(r.ok for r in await pool.map([WRITES] * 10))
        victim, handle = actors[0].pid, pool.actor_handles[0]
        assert folders_of(victim)
        ray.kill(handle, no_restart=True)  # SIGKILL: no exit handler of its own runs
        # The pool learns of the death from a program on it, and replaces the actor.
        for _ in range(20):
            await pool.map(["1"] * 4)
            if pool.workers_lost:
                break
        assert pool.workers_lost == 1
        for _ in range(300):  # the replacement removes them once it is up
            if not folders_of(victim):
                break
            await asyncio.sleep(0.2)
        assert folders_of(victim) == []
