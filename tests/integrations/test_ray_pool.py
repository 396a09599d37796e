"""`codeact.ray.CodeActPool` on a real two-node Ray cluster started on this machine.

One cluster for the module (two nodes of one CPU each, no dashboard), shut down after it.
The tools below travel to the actors by value (cloudpickle), the order-totals tools by a
``"module:attr"`` reference imported on the workers.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")

from click.testing import CliRunner  # noqa: E402
from ray import cloudpickle  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from codeact import Approval, ApprovalRequest, ConfigurationError, ToolCallRecord, tool  # noqa: E402
from codeact.cli import main  # noqa: E402
from codeact.ray import CodeActPool  # noqa: E402
from codeact.ray.episodes import run_episodes  # noqa: E402
from codeact.testing import Reply, ScriptedChat, code_call  # noqa: E402
from codeact.workloads import order_totals  # noqa: E402

ORDER_TOTALS = "codeact.workloads.order_totals:TOOLS"


def _agent_test_helpers() -> Any:
    """The chat-completions server of tests/agent (a competent model on 127.0.0.1)."""
    path = Path(__file__).parents[1] / "agent" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_ray_agent_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def where() -> dict[str, Any]:
    """The process and Ray node this tool runs in."""
    import os

    import ray

    return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}


def hang_once(marker: str) -> str:
    """Block (as a tool stuck on a slow service does) the first time; return at once after."""
    import os
    import time

    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
    return "done"


@tool(approval_mode="always_require")
def delete_file(name: str) -> str:
    """Delete a file (needs approval)."""
    return f"deleted {name}"


async def kill_actor_inside_hang_once(pool: CodeActPool, marker: Path) -> None:
    """ray.kill the actor whose program is now inside `hang_once` (it wrote its pid)."""
    handles = dict(zip([a.pid for a in await pool.actors()], pool.actor_handles, strict=True))
    for _ in range(600):
        pid = pid_written(marker)
        if pid is not None:
            ray.kill(handles[pid])
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the program never reached hang_once")


def pid_written(marker: Path) -> int | None:
    text = marker.read_text() if marker.exists() else ""
    return int(text) if text else None


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[str]]:
    """Two Ray nodes on this machine; yields their node ids."""
    # The test's own functions travel by value: the workers cannot import this test module.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, logging_level="WARNING")
        cluster.wait_for_nodes()
        yield [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    finally:
        ray.shutdown()
        cluster.shutdown()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


async def test_200_programs_run_on_actors_on_both_nodes_in_order(cluster: list[str]) -> None:
    async with CodeActPool(
        tools=[where, ORDER_TOTALS], num_actors=2, max_concurrency=4, max_in_flight=16
    ) as pool:
        actors = await pool.actors()
        programs = [f"w = where()\n[{i}, sum(range({i})), w['pid'], w['node']]" for i in range(200)]
        programs[7] = programs[150] = order_totals.PROGRAM
        programs[60] = "1 / 0"  # failed programs are results in their places
        programs[61] = "get_tax_rate(region='Mars')"
        results = await pool.map(programs)

    assert len(results) == 200
    special = {7, 150, 60, 61}
    assert [i for i, r in enumerate(results) if not r.ok] == [60, 61]
    assert results[60].error is not None and results[60].error.type == "ZeroDivisionError"
    assert results[61].error is not None and "unknown region 'Mars'" in results[61].error.message
    assert results[7].stdout.endswith("sum: 334.15\n")
    assert results[150].stdout.endswith("sum: 334.15\n")
    for i, result in enumerate(results):
        if i not in special:  # each result in its program's place
            assert result.ok and result.value[:2] == [i, sum(range(i))], (i, result.error)
    ran_in = {tuple(r.value[2:]) for i, r in enumerate(results) if i not in special}
    assert os.getpid() not in {pid for pid, _ in ran_in}  # never in the driver
    assert ran_in == {(a.pid, a.node_id) for a in actors}  # on the actors...
    assert {node for _, node in ran_in} == set(cluster)  # ...on both nodes


async def test_killed_actor_gives_worker_lost_and_the_pool_goes_on(
    cluster: list[str], tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    async with CodeActPool(tools=[hang_once, where], num_actors=2) as pool:
        before = {a.pid for a in await pool.actors()}
        running = asyncio.ensure_future(pool.execute(f"hang_once(marker={str(marker)!r})"))
        await kill_actor_inside_hang_once(pool, marker)
        started = time.monotonic()
        lost = await asyncio.wait_for(running, 30)
        assert time.monotonic() - started < 30

        assert not lost.ok and lost.error is not None
        assert lost.error.type == "WorkerLost"
        assert "was lost" in lost.error.message and "not run again" in lost.error.message
        after = await pool.map(["where()['pid']"] * 20)
        assert all(r.ok for r in after)
        assert pool.workers_lost == 1
        now = {a.pid for a in await pool.actors()}
        assert len(now) == 2 and len(now - before) == 1  # the dead actor was replaced


async def test_retries_run_a_lost_program_again_when_asked(
    cluster: list[str], tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    async with CodeActPool(tools=[hang_once], num_actors=2, retries=1) as pool:
        running = asyncio.ensure_future(pool.execute(f"hang_once(marker={str(marker)!r})"))
        await kill_actor_inside_hang_once(pool, marker)
        result = await asyncio.wait_for(running, 60)
    assert result.ok and result.value == "done", result.error


async def test_a_pool_whose_lost_actor_cannot_be_replaced_refuses_at_once(
    cluster: list[str], tmp_path: Path
) -> None:
    # The tools' module imports until the flag file exists: the first actor starts, its
    # replacements cannot (as when a node's environment broke after the pool started).
    flag = tmp_path / "broken"
    (tmp_path / "codeact_test_flaky_tools.py").write_text(
        "import os\n"
        "if os.path.exists(os.environ['FLAKY_FLAG']):\n"
        "    raise ImportError('the tools cannot import any more')\n"
        "def ping() -> str:\n"
        "    'Answer.'\n"
        "    return 'pong'\n"
    )
    path = os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {"PYTHONPATH": path, "FLAKY_FLAG": str(flag)}  # codeact from where the driver has it
    async with CodeActPool(
        tools=["codeact_test_flaky_tools:ping"],
        num_actors=1,
        actor_options={"runtime_env": {"env_vars": env}},
    ) as pool:
        assert (await pool.execute("ping()")).value == "pong"
        flag.touch()
        ray.kill(pool.actor_handles[0])
        lost = await asyncio.wait_for(pool.execute("ping()"), 60)
        assert lost.error is not None and lost.error.type == "WorkerLost"
        # Asked while the replacements are still trying: it waits, then is told.
        with pytest.raises(ConfigurationError, match="no actor of this CodeActPool") as told:
            await asyncio.wait_for(pool.execute("1 + 1"), 120)
        assert "(ConfigurationError: tool reference" in str(told.value)
        assert "the tools cannot import any more" in str(told.value)
        assert len(str(told.value).splitlines()) == 1
        with pytest.raises(ConfigurationError, match="no actor of this CodeActPool"):
            await asyncio.wait_for(pool.map(["1", "2"]), 10)  # at once now
        assert pool.workers_lost == 1  # one actor died; its failed replacements are not deaths
        assert pool.actor_handles == [] and await pool.actors() == []


async def test_gated_call_is_asked_of_the_drivers_handler(cluster: list[str]) -> None:
    asked: list[tuple[int, str | None, dict[str, Any]]] = []
    audited: list[ToolCallRecord] = []

    async def handler(request: ApprovalRequest) -> Approval:
        asked.append((os.getpid(), request.tool, dict(request.arguments or {})))
        if request.arguments and request.arguments["name"] == "notes.txt":
            return Approval.approve()
        return Approval.deny("not that one")

    code = (
        "print(delete_file(name='notes.txt'))\n"
        "try:\n    delete_file(name='passwords.txt')\n"
        "except ToolDenied as e:\n    print('denied:', e)\n"
    )
    async with CodeActPool(
        tools=[delete_file],
        num_actors=2,
        approval_handler=handler,
        audit=audited.append,
        redact=["name"],  # on the actor: the records leave it redacted
    ) as pool:
        result = await pool.execute(code)

    assert result.ok, result.error
    assert asked == [
        (os.getpid(), "delete_file", {"name": "notes.txt"}),
        (os.getpid(), "delete_file", {"name": "passwords.txt"}),
    ]
    assert "deleted notes.txt" in result.stdout and "not that one" in result.stdout
    assert [r.decision for r in result.tool_calls] == ["approved", "denied"]
    assert [r.handler for r in result.tool_calls] == ["handler", "handler"]
    assert audited == result.tool_calls  # the audit came back with the result
    assert [r.arguments for r in audited] == [{"name": "[redacted]"}] * 2


async def test_a_failing_or_missing_handler_is_a_denial_that_says_so(cluster: list[str]) -> None:
    def handler(request: ApprovalRequest) -> Any:
        if request.arguments and request.arguments["name"] == "a.txt":
            raise RuntimeError("handler exploded")
        return "yes"  # not True: a denial, as in one process

    code = (
        "for name in ('a.txt', 'b.txt'):\n"
        "    try:\n        delete_file(name=name)\n"
        "    except ToolDenied as e:\n        print('denied:', e)\n"
    )
    async with CodeActPool(tools=[delete_file], num_actors=1, approval_handler=handler) as pool:
        result = await pool.execute(code)
    assert result.ok, result.error
    assert "the approval handler failed (RuntimeError)" in result.stdout
    assert "handler exploded" not in result.stdout  # the driver's, never the program's
    assert "the approval handler returned a str" in result.stdout
    assert [r.decision for r in result.tool_calls] == ["denied", "denied"]

    async with CodeActPool(tools=[delete_file], num_actors=1) as pool:
        result = await pool.execute(code)
    assert result.ok, result.error
    assert result.stdout.count("pass approval_handler= to CodeActPool") == 2
    assert "to CodeAct," not in result.stdout


async def test_tool_reference_that_does_not_import_fails_at_start(cluster: list[str]) -> None:
    pool = CodeActPool(tools=["no_such_package.tools:TOOLS"], num_actors=1)
    with pytest.raises(ConfigurationError, match="no_such_package"):
        await pool.start()


def test_episodes_run_as_ray_tasks_one_agent_each(cluster: list[str]) -> None:
    answer = "\n".join(
        f"{name}: {total:.2f}" for name, total in order_totals.expected_totals().items()
    )
    script: list[Reply] = [code_call(order_totals.PROGRAM), answer + "\nsum: 334.15"]
    records = run_episodes(
        functools.partial(ScriptedChat, script), wirings=("codeact",), runs=2, backend="wasm"
    )
    assert [(r.wiring, r.correct, r.error) for r in records] == [("codeact", True, None)] * 2
    assert all(r.model_turns == 2 and r.code_executions == 1 for r in records)


def test_bench_sandbox_ray_prints_scaling_and_writes_json(
    cluster: list[str], tmp_path: Path
) -> None:
    out = CliRunner().invoke(
        main, ["bench", "sandbox", "--ray", "--runs", "5", "--json", str(tmp_path / "r.json")]
    )
    assert out.exit_code == 0, out.output
    assert " 2 actors |" in out.output and "x 1 actor" in out.output
    assert "Ray adds to one order_totals execution" in out.output
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert {(r["program"], r["where"], r["actors"]) for r in results} == {
        (program, where, n)
        for program in ("print(1)", "order_totals")
        for where, n in (("in-process", 0), ("ray", 1), ("ray", 2))
    }
    assert all(r["executions_per_s"] > 0 for r in results)


def test_what_ray_cannot_pickle_is_refused_by_name(cluster: list[str]) -> None:
    lock = threading.Lock()

    def locked(x: int) -> int:
        """Add one, holding a lock of this process."""
        with lock:
            return x + 1

    async def guarded(call: Any, call_next: Any) -> Any:
        with lock:
            pass
        return await call_next(call)

    with pytest.raises(ConfigurationError, match="tool 'locked' cannot be sent") as told:
        CodeActPool(tools=[where, locked], num_actors=1)
    assert "'package.module:attr'" in str(told.value) and "_thread.lock" in str(told.value)
    with pytest.raises(ConfigurationError, match="option middleware= cannot be sent") as told:
        CodeActPool(tools=[where], num_actors=1, middleware=[guarded])
    for name in ("tracer_provider", "meter_provider"):
        with pytest.raises(ConfigurationError, match=f"takes no {name}=") as told:
            options: dict[str, Any] = {name: object()}
            CodeActPool(tools=[where], num_actors=1, **options)
        assert "worker_process_setup_hook" in str(told.value)
    with pytest.raises(ConfigurationError, match="unknown option") as told:
        CodeActPool(tools=[where], num_actors=1, tracer=object())
    assert "tracer_provider" not in str(told.value)


def test_more_actors_than_the_cluster_has_cpus_is_refused_at_once(cluster: list[str]) -> None:
    with pytest.raises(ConfigurationError, match="need 5 CPUs; the Ray cluster has 2"):
        CodeActPool(tools=[where], num_actors=5)


def test_bench_order_totals_on_ray_runs_each_episode_as_a_task(
    cluster: list[str], tmp_path: Path
) -> None:
    helpers = _agent_test_helpers()
    server = helpers.FakeOpenAI()
    server.policy = helpers.order_totals_policy
    server.thread.start()
    try:
        out = CliRunner(env={"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None}).invoke(
            main,
            [
                "bench",
                "order-totals",
                "--ray",
                "--base-url",
                server.url,
                "--model",
                "fake-model",
                "--runs",
                "1",
                "--json",
                str(tmp_path / "bench.json"),
            ],
        )
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    assert out.exit_code == 0, out.output
    assert "| correct | 1/1 | 1/1 |  |" in out.output
    assert "| model turns | 2 | 4 | 0.50 |" in out.output
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["model"] == "fake-model"
    assert [r["wiring"] for r in data["runs"]] == ["codeact", "direct"]
    assert all(r["correct"] for r in data["runs"])
    assert len(server.requests) == 6  # the workers' agents asked the model: 2 + 4 turns
