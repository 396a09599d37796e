"""Running one program for `ExecuteCodeTool`: the framework's call, or `run()` outside an agent.

Each `execute_code` call builds a fresh `CodeAct` from a snapshot of the tool's state (its
tools, grants, limits and approval settings, read under the tool's lock), with every tool the
program calls wrapped by `NestedCalls`, so a nested call goes through the run's function
middleware (`codeact.integrations.agent_framework._nested_calls`). The result comes back as
the reference's contents or codeact's (`_contents`). Two things end the run early:

- middleware that fails closed on a nested call (a ``MiddlewareFailure``) stops the program
  and the run fails with it, as it would have for a direct call;
- middleware that ends the loop on a nested call (``MiddlewareTermination``) lets the program
  finish and ends the loop after it, keeping what the program printed.

Mixed into `ExecuteCodeTool`, which holds the state; approval of the whole block comes from
the framework (or from the caller of `run`), see `_approvals`.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_framework import (
    Content,
    FunctionInvocationContext,
    FunctionTool,
    MiddlewareFailure,
    MiddlewareTermination,
)

from ...calls.approvals import ApprovalHandler, ApprovalScope
from ...policy.outputs import OutputLimits
from ...runtime import CodeAct, ExecutionResult
from ._approvals import FRAMEWORK, ApprovalRoute, framework_approved
from ._contents import ResultFormat, execution_contents
from ._grant_methods import core_domain
from ._grants import AllowedDomain, FileMount
from ._inputs import InputStaging
from ._nested_calls import (
    NestedCalls,
    find_function_pipeline,
    ran_through_middleware,
    sandbox_tool_for,
)
from ._sessions import keep_state, open_session

__all__ = ["ProgramRuns"]

if TYPE_CHECKING:  # the mixin runs inside a FunctionTool (`ExecuteCodeTool`)
    _ToolBase = FunctionTool
else:
    _ToolBase = object


class ProgramRuns(_ToolBase):
    """`run` (outside an agent) and the function the framework invokes as `execute_code`."""

    _state_lock: threading.RLock
    _managed: list[FunctionTool]
    _workspace_root: Path | None
    _file_mounts: dict[str, FileMount]
    _allowed_domains: dict[str, AllowedDomain]
    _staging: InputStaging
    _codeact: CodeAct
    _result_format: ResultFormat
    _approval_scope: ApprovalScope
    _approval_handler: ApprovalHandler | None
    _pipeline_options: dict[str, Any]
    _session_store: dict[str, Any] | None
    _session_key: bytes | None

    if TYPE_CHECKING:

        def _needs_approval(self) -> bool: ...
        def _output_limits(self) -> OutputLimits: ...

    async def run(self, code: str) -> ExecutionResult:
        """Run `code` with this tool's tools, outside any agent.

        Nested calls skip the framework's middleware (there is no run) but pass codeact's
        pipeline. Calling this yourself approves what the framework would have asked about
        (the whole block), as calling a tool's ``invoke()`` does; gated calls inside the
        program still ask `approval_handler` with approval_scope ``"call"`` or ``"plan"``.
        """
        context = FunctionInvocationContext(function=self, arguments={"code": code})
        approver = "the caller of ExecuteCodeTool.run" if self._needs_approval() else None
        result, _ = await self._execute(code, context, pipeline=None, block_approved_by=approver)
        return result

    async def _run_code(self, code: str, ctx: FunctionInvocationContext) -> list[Content]:
        pipeline = find_function_pipeline(ctx)
        if pipeline is None and ran_through_middleware(ctx):
            # Fail the run, not just this call: running the program would let its tool calls
            # bypass the middleware the developer installed.
            raise MiddlewareFailure(
                "codeact could not find Agent Framework's function middleware for this call, "
                "so nested tool calls would bypass it; this framework version is not supported"
            )
        approver = FRAMEWORK if framework_approved(self, ctx) else None
        result, termination = await self._execute(code, ctx, pipeline, block_approved_by=approver)
        contents = execution_contents(result, result_format=self._result_format)
        if termination is not None:
            # Middleware ended the loop during a nested call: end it after this call, as it
            # would have after a direct call, but keep what the program printed. (The loop
            # reads the context's result, which would otherwise hold this call's coroutine.)
            ctx.result = contents
            raise MiddlewareTermination(str(termination), result=contents)
        return contents

    async def _execute(
        self,
        code: str,
        ctx: FunctionInvocationContext,
        pipeline: Any,
        *,
        block_approved_by: str | None,
    ) -> tuple[ExecutionResult, MiddlewareTermination | None]:
        task: asyncio.Future[ExecutionResult] | None = None

        def stop_program() -> None:
            if task is not None:
                task.cancel()

        calls = NestedCalls(ctx, pipeline, on_abort=stop_program)
        with self._state_lock:
            tools = [sandbox_tool_for(t, calls) for t in self._managed]
            approval_mode = self.approval_mode
            workspace, mounts = self._workspace_root, list(self._file_mounts.values())
            domains = list(self._allowed_domains.values())
        staged = None
        if workspace is not None or mounts:
            # Copying the grants can take a while for a big workspace: not on the event loop.
            staged = await asyncio.to_thread(self._staging.directory, workspace, mounts)
        codeact = CodeAct(
            tools=tools,
            limits=self._codeact.limits,
            backend=self._codeact.backend,
            workspace_root=staged,
            allowed_domains=[core_domain(d) for d in domains],
            output_limits=self._output_limits(),
            # The framework (or run()'s caller) approved the block when approval_mode says so:
            # codeact's gate then sees a block approved by it, with the scope's grants.
            approval_mode=approval_mode,
            approval_scope=self._approval_scope,
            approval_handler=ApprovalRoute(
                self._approval_handler,
                block_approved_by=block_approved_by,
                scope=self._approval_scope,
            ),
            **self._pipeline_options,
        )
        store = self._session_store
        session, refused = (
            open_session(codeact, store, self._session_key) if store is not None else (None, None)
        )
        task = asyncio.ensure_future(session.execute(code) if session else codeact.execute(code))
        try:
            result = await task
        except asyncio.CancelledError:
            if calls.abort is not None:
                raise calls.abort from None  # middleware failed closed: so does the run
            raise
        if session is not None and store is not None:
            keep_state(store, session, result, refused)
        return result, calls.termination
