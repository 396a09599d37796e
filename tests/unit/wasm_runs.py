"""Running the wasm guest's runner directly in a new instance, for the unit tests of the wasm
pool and of prefaulting (no backend, no tools but a quiet host that answers every call)."""

from __future__ import annotations

import json
from typing import Any

from codeact.sandbox.wasm.fastcall import call_string_export
from codeact.sandbox.wasm.host_imports import set_current
from codeact.sandbox.wasm.runtime import WasmRuntime


class QuietHost:
    """The guest's imports answered at once: every tool call returns `rows`, output is
    dropped, time never runs out; what the host was told failed is kept in `failures`."""

    def __init__(self, rows: str) -> None:
        self.rows = rows
        self.failures: list[BaseException] = []

    def dispatch(self, name: str, args_json: str) -> tuple[bool, str]:
        return True, self.rows

    def start_call(self, name: str, args_json: str) -> int | str:
        return "no concurrent tool calls in these runs"

    def wait_calls(self, timeout_ms: int) -> str:
        return "[]"

    def sleep(self, ms: int) -> None:
        pass

    def write_output(self, stream: int, text: str) -> None:
        pass

    def http_request(self, request_json: str) -> tuple[bool, str]:
        return False, "no network in these runs"

    def write_raw(self, stream: int, data: bytes) -> None:
        pass

    def check_time(self) -> int | None:
        return 1_000_000

    def host_failed(self, exc: BaseException) -> None:
        self.failures.append(exc)


def run_in_new_instance(
    runtime: WasmRuntime,
    request: str,
    rows: str = "null",
    *,
    warm: bool = False,
    host: QuietHost | None = None,
) -> tuple[dict[str, Any], int]:
    """The report of `request` run in a new instance of `runtime` (warmed by the pool's
    warm-up or not), every tool call answered by `host` (a QuietHost answering `rows`
    unless given), and the page faults of the run."""
    import resource  # Unix only: imported where faults are counted

    prepared = runtime.instantiate(warm=warm)
    host = host or QuietHost(rows)
    prepared.output.execution = host
    set_current(host)
    try:
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        report: dict[str, Any] = json.loads(
            call_string_export(prepared.run, prepared.store, request)
        )
        after = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    finally:
        set_current(None)
        prepared.close()
    return report, after - before


def first_run_faults(
    request: str, rows: str, *, warm: bool, runtime: WasmRuntime | None = None
) -> int:
    """Page faults of `request`'s run in a new instance (the process's shared runtime unless
    `runtime`); the run must not fail."""
    report, faults = run_in_new_instance(runtime or WasmRuntime.shared(), request, rows, warm=warm)
    assert "error" not in report, report
    return faults


def run_report(runtime: WasmRuntime, code: str) -> dict[str, Any]:
    """The report of running `code` in a new instance of `runtime`."""
    return run_in_new_instance(runtime, json.dumps({"code": code, "tools": []}))[0]


def json_text(report: dict[str, Any]) -> str:
    return json.dumps(report)
