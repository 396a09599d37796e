"""The hyperlight backend: its availability probe, and its plumbing (worker process, runner
installed in the guest, host functions, relay, restarts) run against a stand-in sandbox class
with hyperlight-sandbox's API, since a real VM cannot start on machines without a hypervisor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeact import CodeAct, Limits, tool
from codeact.sandbox.hyperlight import HyperlightBackend
from codeact.sandbox.hyperlight.probe import _tidy

FAKE = f"{Path(__file__).with_name('fake_hyperlight.py')}:FakeSandbox"


def test_availability_is_probed_and_explained() -> None:
    availability = HyperlightBackend.availability()
    if availability.available:
        pytest.skip("a Hyperlight VM starts on this machine")
    assert availability.reason
    assert availability.reason.startswith(
        (
            "a Hyperlight VM could not start here",
            "the Hyperlight packages",
            "no hypervisor",
            "the hypervisor",
            "Hyperlight needs",
        )
    )
    assert HyperlightBackend.availability() is availability  # probed once per process


def test_repeated_causes_are_reported_once() -> None:
    cause = "load error: Unknown KVM VCPU exit: InternalError"
    message = f"Failed: {cause}: {cause}"
    assert _tidy(message) == "Failed: load error: Unknown KVM VCPU exit: InternalError"


@tool
def add(a: int, b: int = 1) -> int:
    """Add two numbers."""
    return a + b


@pytest.fixture
def backend() -> Iterator[HyperlightBackend]:
    b = HyperlightBackend(sandbox_factory=FAKE)
    b.prepare()
    yield b
    b.close()


async def test_programs_call_tools_print_and_return_values(backend: HyperlightBackend) -> None:
    codeact = CodeAct(tools=[add], backend=backend, limits=Limits(wall_time=10))
    result = await codeact.execute("print('hi')\nadd(2, b=3)")
    assert result.ok and result.stdout == "hi\n" and result.value == 5
    assert [c.outcome for c in result.tool_calls] == ["ok"]
    failed = await codeact.execute("x = 1\n\nadd('not a number')")
    assert (
        failed.error is not None and failed.error.type == "ToolError" and failed.error.lineno == 3
    )
    gathered = await codeact.execute(
        "import asyncio\nawait asyncio.gather(*(call_tool_async('add', a=i) for i in range(3)))"
    )
    assert gathered.value == [1, 2, 3]


async def test_wall_time_kills_the_worker_and_the_next_run_gets_a_new_one(
    backend: HyperlightBackend,
) -> None:
    codeact = CodeAct(backend=backend, limits=Limits(wall_time=0.5))
    first = backend._idle[256, None][0]
    result = await codeact.execute("print('started')\nwhile True:\n    pass")
    assert result.error is not None and result.error.limit == "wall_time"
    assert result.stdout == "started\n"
    assert not first.alive
    after = await codeact.execute("6 * 7")
    assert after.ok and after.value == 42


async def test_workers_are_kept_per_memory_size(backend: HyperlightBackend) -> None:
    small = CodeAct(backend=backend, limits=Limits(memory_mb=64))
    assert (await small.execute("1")).value == 1
    assert (await small.execute("2")).value == 2
    assert [len(backend._idle[m, None]) for m in (64, 256)] == [1, 1]
    assert backend._idle[64, None][0].heap_mb == 64


async def test_runs_in_parallel_use_separate_workers(backend: HyperlightBackend) -> None:
    codeact = CodeAct(tools=[add], backend=backend)
    results = await asyncio.gather(*(codeact.execute(f"add({i})") for i in range(4)))
    assert [r.value for r in results] == [1, 2, 3, 4]


async def test_mounts_it_cannot_grant_are_refused_clearly(
    backend: HyperlightBackend, tmp_path: Path
) -> None:
    codeact = CodeAct(backend=backend, file_mounts=[(tmp_path, "/data")])
    result = await codeact.execute("1")
    assert result.error is not None and result.error.type == "SandboxError"
    assert "/data (read-only)" in result.error.message and "wasm or jail" in result.error.message


async def test_http_requests_reach_the_hosts_allow_list(backend: HyperlightBackend) -> None:
    codeact = CodeAct(backend=backend)
    result = await codeact.execute("http_get('http://127.0.0.1:9/')")
    assert result.error is not None and result.error.type == "NetworkDenied"
    assert "no allowed_domains rule for 127.0.0.1" in result.error.message
