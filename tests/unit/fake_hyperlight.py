"""A stand-in for `hyperlight_sandbox.Sandbox` with the same API and no VM, for testing the
hyperlight backend's plumbing (worker process, runner install, host functions, relay) on
machines without a hypervisor. It runs code in the worker's own CPython: no isolation at all.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class FakeResult:
    stdout: str
    stderr: str
    exit_code: int


class FakeSandbox:
    def __init__(
        self,
        *,
        backend: str = "wasm",
        heap_size: str = "25Mi",
        stack_size: str = "35Mi",
        output_dir: str | None = None,
    ):
        assert backend == "wasm"
        self.output_dir = output_dir  # the real guest sees it as /output; this stand-in cannot
        self.heap_size = heap_size
        self.tools: dict[str, Callable[..., Any]] = {}
        self.globals: dict[str, Any] = {"__builtins__": __builtins__, "call_tool": self._call_tool}
        self.started = False

    def register_tool(self, name: str, callback: Callable[..., Any]) -> None:
        assert not self.started, "tools must be registered before the first run"
        self.tools[name] = callback

    def _call_tool(self, tool_name: str, /, **kwargs: Any) -> Any:
        # Like the real guest: arguments and results cross as JSON.
        result = self.tools[tool_name](**json.loads(json.dumps(kwargs)))
        return json.loads(json.dumps(result))

    def run(self, code: str) -> FakeResult:
        self.started = True
        out, err = io.StringIO(), io.StringIO()
        code_ = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                exec(code, self.globals)
            except Exception as exc:
                print(f"{type(exc).__name__}: {exc}", file=err)
                code_ = 1
        return FakeResult(out.getvalue(), err.getvalue(), code_)

    def snapshot(self) -> dict[str, Any]:
        return dict(self.globals)

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.globals.clear()
        self.globals.update(snapshot)
