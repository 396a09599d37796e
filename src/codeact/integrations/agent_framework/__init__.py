"""A drop-in CodeAct provider for Microsoft Agent Framework, on codeact's sandbox.

Switching from Microsoft's Hyperlight package is a change of import::

    # from agent_framework_hyperlight import HyperlightCodeActProvider
    from codeact.integrations.agent_framework import CodeActProvider as HyperlightCodeActProvider

`CodeActProvider` and `ExecuteCodeTool` take the reference's arguments (with its defaults) and
have its methods; `execute_code` returns the reference's contents item for item, the provider
keeps the reference's state under its source id (``"hyperlight_codeact"``), and a link inside
a granted tree is refused with `ValueError`, as there (see `_contents` and
docs/integrations.md). What differs: programs run in codeact's sandbox (no hypervisor needed),
get tools as plain Python functions, tracebacks with line numbers and limits
(`limits=Limits(...)`), and every nested tool call runs through the framework's function
invocation, so the agent's function middleware sees it.
Approval works as in the reference by default (the framework approves whole blocks);
``approval_scope="call"`` with an ``approval_handler`` gates each call inside the program
instead (see `codeact.integrations.agent_framework._approvals`), and
``middleware``/``redact``/``audit`` give nested calls codeact's pipeline. Needs
``pip install -e '.[agent-framework]'``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..._extras import needs_extra

with needs_extra("agent-framework", __name__):
    from agent_framework import AgentSession, ContextProvider, FunctionTool, SessionContext

from ...calls.approvals import DEFAULT_APPROVAL_TIMEOUT, ApprovalHandler, ApprovalScope
from ...calls.audit import AuditSink, Redactor
from ...calls.middleware import Middleware, MiddlewareFn
from ...policy.limits import Limits
from ...policy.packages import PackageGrant
from ...sandbox.base import SandboxBackend
from ._contents import ResultFormat
from ._execute_code_tool import ExecuteCodeTool
from ._grants import AllowedDomain, AllowedDomainInput, FileMount, FileMountInput
from ._nested_calls import NESTED_CALL_KEY
from ._options import (
    DEFAULT_BACKEND,
    DEFAULT_MAX_OUTPUT_FILE_BYTES,
    DEFAULT_MAX_OUTPUT_FILES,
    DEFAULT_MAX_OUTPUT_TOTAL_BYTES,
    REFERENCE_GUEST_MODULE,
    ApprovalMode,
    ToolDescriptionFormat,
    ToolsInput,
)

__all__ = [
    "NESTED_CALL_KEY",
    "AllowedDomain",
    "AllowedDomainInput",
    "CodeActProvider",
    "ExecuteCodeTool",
    "FileMount",
    "FileMountInput",
]


class CodeActProvider(ContextProvider):
    """Adds CodeAct to every run of an agent: the instructions and a run-scoped `execute_code`.

    Tools given here are called by the program, not offered to the model directly. Each run
    stores the effective configuration (`ExecuteCodeTool.build_serializable_state`) in the
    session state under `source_id`.

    >>> codeact = CodeActProvider(tools=[get_weather], limits=Limits(wall_time=10))
    >>> agent = Agent(client=client, context_providers=[codeact])  # doctest: +SKIP

    Args:
        source_id: The key of this provider's instructions, tools and state (the reference's
            ``"hyperlight_codeact"`` by default).

    Keyword Args:
        tools, approval_mode, workspace_root, file_mounts, allowed_domains, backend, module,
        module_path: the reference's arguments, with its defaults (``backend="wasm"``).
        tool_description_format, max_output_files, max_output_file_bytes,
        max_output_total_bytes, limits, result_format, approval_scope, approval_handler,
        approval_timeout, middleware, redact, audit, packages, sessions, session_key:
        codeact's own. Each is described on
        `ExecuteCodeTool`, which receives them all.
    """

    DEFAULT_SOURCE_ID = "hyperlight_codeact"

    def __init__(
        self,
        source_id: str = DEFAULT_SOURCE_ID,
        *,
        tools: ToolsInput | None = None,
        approval_mode: ApprovalMode | None = None,
        workspace_root: str | Path | None = None,
        file_mounts: FileMountInput | Sequence[FileMountInput] | None = None,
        allowed_domains: AllowedDomainInput | Sequence[AllowedDomainInput] | None = None,
        backend: str | SandboxBackend = DEFAULT_BACKEND,
        module: str | None = REFERENCE_GUEST_MODULE,
        module_path: str | None = None,
        tool_description_format: ToolDescriptionFormat = "compact",
        max_output_files: int = DEFAULT_MAX_OUTPUT_FILES,
        max_output_file_bytes: int = DEFAULT_MAX_OUTPUT_FILE_BYTES,
        max_output_total_bytes: int = DEFAULT_MAX_OUTPUT_TOTAL_BYTES,
        limits: Limits | None = None,
        result_format: ResultFormat = "reference",
        approval_scope: ApprovalScope = "block",
        approval_handler: ApprovalHandler | None = None,
        approval_timeout: float | None = DEFAULT_APPROVAL_TIMEOUT,
        middleware: Sequence[Middleware | MiddlewareFn] = (),
        redact: Redactor | Sequence[str] | None = None,
        audit: AuditSink | None = None,
        packages: Iterable[str] | PackageGrant = (),
        sessions: bool = False,
        session_key: bytes | None = None,
    ) -> None:
        super().__init__(source_id)
        self._execute_code_tool = ExecuteCodeTool(
            tools=tools,
            approval_mode=approval_mode,
            workspace_root=workspace_root,
            file_mounts=file_mounts,
            allowed_domains=allowed_domains,
            backend=backend,
            module=module,
            module_path=module_path,
            tool_description_format=tool_description_format,
            max_output_files=max_output_files,
            max_output_file_bytes=max_output_file_bytes,
            max_output_total_bytes=max_output_total_bytes,
            limits=limits,
            result_format=result_format,
            approval_scope=approval_scope,
            approval_handler=approval_handler,
            approval_timeout=approval_timeout,
            middleware=middleware,
            redact=redact,
            audit=audit,
            packages=packages,
            sessions=sessions,
            session_key=session_key,
        )

    @property
    def execute_code_tool(self) -> ExecuteCodeTool:
        return self._execute_code_tool

    def add_tools(self, tools: ToolsInput) -> None:
        self._execute_code_tool.add_tools(tools)

    def get_tools(self) -> list[FunctionTool]:
        return self._execute_code_tool.get_tools()

    def remove_tool(self, name: str) -> None:
        self._execute_code_tool.remove_tool(name)

    def clear_tools(self) -> None:
        self._execute_code_tool.clear_tools()

    def add_file_mounts(self, file_mounts: FileMountInput | Sequence[FileMountInput]) -> None:
        self._execute_code_tool.add_file_mounts(file_mounts)

    def get_file_mounts(self) -> list[FileMount]:
        return self._execute_code_tool.get_file_mounts()

    def remove_file_mount(self, mount_path: str) -> None:
        self._execute_code_tool.remove_file_mount(mount_path)

    def clear_file_mounts(self) -> None:
        self._execute_code_tool.clear_file_mounts()

    def add_allowed_domains(
        self, domains: AllowedDomainInput | Sequence[AllowedDomainInput]
    ) -> None:
        self._execute_code_tool.add_allowed_domains(domains)

    def get_allowed_domains(self) -> list[AllowedDomain]:
        return self._execute_code_tool.get_allowed_domains()

    def remove_allowed_domain(self, domain: str) -> None:
        self._execute_code_tool.remove_allowed_domain(domain)

    def clear_allowed_domains(self) -> None:
        self._execute_code_tool.clear_allowed_domains()

    def build_instructions(self, *, tools_visible_to_model: bool = False) -> str:
        return self._execute_code_tool.build_instructions(
            tools_visible_to_model=tools_visible_to_model
        )

    async def before_run(
        self,
        *,
        agent: Any,
        session: AgentSession | None,
        context: SessionContext,
        state: dict[str, Any],
    ) -> None:
        """Inject the CodeAct instructions and a run-scoped `execute_code` tool."""
        run_tool = self._execute_code_tool.create_run_tool()
        if run_tool._session_store is not None:  # sessions=True: kept in the framework session
            run_tool._session_store = state
        state[self.source_id] = run_tool.build_serializable_state()
        context.extend_instructions(
            self.source_id, run_tool.build_instructions(tools_visible_to_model=False)
        )
        context.extend_tools(self.source_id, [run_tool])
