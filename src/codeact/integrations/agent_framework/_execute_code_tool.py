"""`ExecuteCodeTool`: the `execute_code` function tool of the Agent Framework provider.

The class holds the tool's state and what the model sees of it (its description and
instructions, its tools, the run-scoped copy and the state the provider keeps); running a
program is `_program_runs`, the grant methods `_grant_methods`, the contents it returns
`_contents`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_framework import FunctionTool
from typing_extensions import Self

from ...calls.approvals import DEFAULT_APPROVAL_TIMEOUT, ApprovalHandler, ApprovalScope
from ...calls.audit import AuditSink, Redactor
from ...calls.middleware import Middleware, MiddlewareFn
from ...errors import ConfigurationError
from ...policy.limits import Limits
from ...policy.packages import PackageGrant
from ...runtime import CodeAct
from ...runtime.instructions import (
    EXECUTE_CODE_PARAMETERS,
    describe_execute_code,
    instructions,
)
from ...sandbox.base import SandboxBackend
from ...tools import Tool
from .._adapter import unique_names
from ._approvals import check_approval_options, execute_code_needs_approval
from ._contents import ResultFormat
from ._grant_methods import GrantMethods
from ._grants import (
    AllowedDomain,
    AllowedDomainInput,
    FileMount,
    FileMountInput,
    resolve_workspace_root,
)
from ._inputs import InputStaging, check_grants
from ._nested_calls import sandbox_tool_for
from ._options import (
    DEFAULT_BACKEND,
    DEFAULT_MAX_OUTPUT_FILE_BYTES,
    DEFAULT_MAX_OUTPUT_FILES,
    DEFAULT_MAX_OUTPUT_TOTAL_BYTES,
    REFERENCE_GUEST_MODULE,
    REFERENCE_PARAMETERS,
    ApprovalMode,
    ToolDescriptionFormat,
    ToolsInput,
    framework_tools,
    normalize_format,
    positive,
)
from ._program_runs import ProgramRuns

__all__ = ["ExecuteCodeTool"]


class ExecuteCodeTool(GrantMethods, ProgramRuns, FunctionTool):
    """The `execute_code` function tool: runs the model's program in a fresh codeact sandbox.

    The tools given here are not offered to the model directly: the program calls them.
    By default approval works as in the reference: `execute_code` requires approval (through
    the framework's approval flow) if ``approval_mode="always_require"`` or if any of its tools
    requires approval, and approving it approves every call in the program. With
    ``approval_scope="call"`` only the calls of tools that require approval wait, each for
    `approval_handler`, inside the running program; see
    `codeact.integrations.agent_framework._approvals`.

    Keyword Args:
        tools: Framework tools (`@tool` functions, `FunctionTool`s), plain functions, or codeact
            tools (e.g. from `mcp_tools`) the program may call.
        tool_description_format: ``"compact"`` (typed signatures, the default) or ``"json"`` (the
            signatures plus each tool's JSON schema), for all tools or per tool name.
        approval_mode: ``"never_require"`` (default) or ``"always_require"``: every
            `execute_code` call waits for the framework's approval flow.
        approval_scope: ``"block"`` (default, the reference's rule): a tool that requires
            approval makes every block require it. ``"call"``: each call of such a tool asks
            `approval_handler` while the program waits; denied, the program gets ``ToolDenied``.
            ``"plan"``: the handler approves up front the calls a scan of the code finds.
        approval_handler: codeact's approval handler (an async callable taking an
            `ApprovalRequest`), for approval_scope ``"call"`` and ``"plan"``. Without one,
            gated calls are denied.
        approval_timeout: Seconds the handler may take before the call is denied.
        middleware, redact, audit: codeact's tool-call pipeline for the calls the program
            makes (see `CodeAct`): they run before the framework's function middleware.
        workspace_root, file_mounts: files the program may read under ``/input`` (a read-only
            snapshot, as in the reference); see `FileMount`.
        allowed_domains: hosts (and methods) the program may send HTTP requests to, checked on
            the host for every request; see `AllowedDomain`.
        max_output_files, max_output_file_bytes, max_output_total_bytes: limits on the files
            the program writes under ``/output``, which come back as data contents.
        backend: codeact sandbox backend name (``"wasm"``, the reference's default, ``"auto"``,
            ``"jail"``, ``"hyperlight"``) or a `SandboxBackend`.
        module, module_path: the reference's Hyperlight guest module, kept in the session
            state; only the default (``"python_guest.path"``, no path) is accepted, since
            codeact runs its own guest (CPython 3.14 with the standard library).
        packages: packages the program may import (see `CodeAct`), installed now.
        limits: codeact `Limits` of each execution (wall time, memory, output, tool calls).
        result_format: ``"reference"`` (default): the contents the reference returns, item for
            item (stdout, files, stderr or an ``"Execution error"`` error content), with
            codeact's extra facts (the last line's value, the error's line and limit) under
            ``additional_properties["codeact"]``; the model is told to print what it needs.
            ``"codeact"``: one text item with codeact's text for the model (output, the value
            of the last line, the traceback, what stopped it), then the files; the model is
            told the last line's value comes back. See docs/integrations.md.
        sessions: programs of one framework `AgentSession` share their top-level variables,
            functions and imports (a codeact `Session` per AgentSession, kept in its state).
            Off by default: the reference is stateless.
        session_key: the secret states are sealed with (16+ bytes): pass one to restore a
            serialized AgentSession in another process (default: a key of this process).

    A symbolic link inside `workspace_root` or a mounted directory raises `ValueError` when
    the state, the instructions or a run are built (the reference's rule).
    """

    if TYPE_CHECKING:
        # FunctionTool's descriptor protocol gives back this tool or a copy of it (same class).
        # Said here because mypy applies it to a property that returns a tool too
        # (python/mypy#13608): `CodeActProvider.execute_code_tool` would type as FunctionTool.
        def __get__(self, obj: Any, objtype: type | None = None) -> Self: ...

    def __init__(
        self,
        *,
        tools: ToolsInput | None = None,
        tool_description_format: ToolDescriptionFormat = "compact",
        approval_mode: ApprovalMode | None = None,
        workspace_root: str | Path | None = None,
        file_mounts: FileMountInput | Sequence[FileMountInput] | None = None,
        allowed_domains: AllowedDomainInput | Sequence[AllowedDomainInput] | None = None,
        max_output_files: int = DEFAULT_MAX_OUTPUT_FILES,
        max_output_file_bytes: int = DEFAULT_MAX_OUTPUT_FILE_BYTES,
        max_output_total_bytes: int = DEFAULT_MAX_OUTPUT_TOTAL_BYTES,
        backend: str | SandboxBackend = DEFAULT_BACKEND,
        limits: Limits | None = None,
        result_format: ResultFormat = "reference",
        approval_scope: ApprovalScope = "block",
        approval_handler: ApprovalHandler | None = None,
        approval_timeout: float | None = DEFAULT_APPROVAL_TIMEOUT,
        middleware: Sequence[Middleware | MiddlewareFn] = (),
        redact: Redactor | Sequence[str] | None = None,
        audit: AuditSink | None = None,
        module: str | None = REFERENCE_GUEST_MODULE,
        module_path: str | None = None,
        packages: Iterable[str] | PackageGrant = (),
        sessions: bool = False,
        session_key: bytes | None = None,
    ) -> None:
        if module not in (None, REFERENCE_GUEST_MODULE) or module_path is not None:
            raise ConfigurationError(
                "module and module_path choose a Hyperlight guest; codeact runs its own guest "
                "(CPython 3.14 with the standard library), so leave them out"
            )
        if result_format not in ("reference", "codeact"):
            raise ConfigurationError(
                f"result_format must be 'reference' or 'codeact', got {result_format!r}"
            )
        self._result_format: ResultFormat = result_format
        self._state_lock = threading.RLock()
        self._sessions = bool(sessions)
        self._session_key = session_key
        # Where the session's state is kept: the framework session's provider state for a run
        # tool (set by the provider), this tool's own dict for calls of `run` outside a run.
        self._session_store: dict[str, Any] | None = {} if sessions else None
        self._format = normalize_format(tool_description_format)
        check_approval_options(approval_mode, approval_scope, approval_handler)
        self._default_approval_mode: ApprovalMode = approval_mode or "never_require"
        self._approval_scope: ApprovalScope = approval_scope
        self._approval_handler = approval_handler
        # codeact's pipeline for the program's calls, passed on to each run's CodeAct.
        self._pipeline_options: dict[str, Any] = {
            "approval_timeout": approval_timeout,
            "middleware": list(middleware),
            "redact": redact,
            "audit": audit,
        }
        self._max_output_files = positive("max_output_files", max_output_files)
        self._max_output_file_bytes = positive("max_output_file_bytes", max_output_file_bytes)
        self._max_output_total_bytes = positive("max_output_total_bytes", max_output_total_bytes)
        self._workspace_root = resolve_workspace_root(workspace_root)
        # Checks the limits, the backend and the pipeline options now; each run makes its own.
        self._codeact = CodeAct(
            limits=limits, backend=backend, packages=packages, **self._pipeline_options
        )
        self._packages = self._codeact.packages
        if self._packages is not None:  # resolved once: every run reuses the grant
            self._pipeline_options["packages"] = self._packages
        self._staging = InputStaging()
        self._managed: list[FunctionTool] = []
        self._described: dict[int, tuple[FunctionTool, Tool]] = {}
        self._file_mounts: dict[str, FileMount] = {}
        self._allowed_domains: dict[str, AllowedDomain] = {}
        super().__init__(
            name="execute_code",
            description="",
            approval_mode="never_require",
            func=self._run_code,
            input_model=(
                EXECUTE_CODE_PARAMETERS if result_format == "codeact" else REFERENCE_PARAMETERS
            ),
        )
        if tools is not None:
            self.add_tools(tools)
        if file_mounts is not None:
            self.add_file_mounts(file_mounts)
        if allowed_domains is not None:
            self.add_allowed_domains(allowed_domains)
        self._refresh_approval_mode()

    # -- what the model sees -------------------------------------------------------------------
    @property
    def description(self) -> str:
        """The tool's description: the sandbox and the typed signature of every tool, built now."""
        if not hasattr(self, "_state_lock"):  # FunctionTool.__init__ is still running
            return ""
        with self._state_lock:
            tools = [self._describe(t) for t in self._managed]
            fmt = self._format
        json_names = (
            {t.name for t in tools}
            if fmt == "json"
            else {n for n, f in fmt.items() if f == "json"}
            if isinstance(fmt, dict)
            else set()
        )
        return describe_execute_code(
            tools,
            grants=self._grant_lines(),
            json_schemas=json_names,
            returns_value=self._result_format == "codeact",
            persistent=self._sessions,
        )

    @description.setter
    def description(self, value: str) -> None:
        pass  # always built from the current tools

    def build_instructions(self, *, tools_visible_to_model: bool = False) -> str:
        """The system-prompt fragment for CodeAct with the current tools."""
        with self._state_lock:
            tools = [self._describe(t) for t in self._managed]
            granted = bool(self._workspace_root or self._file_mounts or self._allowed_domains)
            workspace, mounts = self._workspace_root, list(self._file_mounts.values())
        check_grants(workspace, mounts)
        grants = self._grant_lines() if granted or self._packages else ()
        note = (
            "Some of these functions may also be offered as separate tools; prefer "
            "`execute_code` whenever a task combines several calls with Python."
            if tools_visible_to_model
            else "These functions exist only inside `execute_code`; they are not separate tools."
        )
        text = instructions(tools, grants=grants, name_tools=False, persistent=self._sessions)
        return f"{text}\n\n{note}"

    def to_dict(
        self, *, exclude: set[str] | None = None, exclude_none: bool = True
    ) -> dict[str, Any]:
        data = super().to_dict(exclude=exclude, exclude_none=exclude_none)
        data["description"] = self.description
        return data

    # -- tools ---------------------------------------------------------------------------------
    def add_tools(self, tools: ToolsInput) -> None:
        """Add tools the program may call; a tool with the name of an earlier one replaces it."""
        new = framework_tools(tools)
        with self._state_lock:
            for tool in new:
                self._describe(tool)  # fail now on a tool the sandbox cannot offer
            names = {t.name for t in new}
            managed = [t for t in self._managed if t.name not in names] + new
            unique_names(
                (t.name for t in managed),
                framework="Agent Framework",
                fix="rename one of them (FunctionTool(name=...))",
            )
            self._managed = managed
            self._refresh_approval_mode()

    def get_tools(self) -> list[FunctionTool]:
        with self._state_lock:
            return list(self._managed)

    def remove_tool(self, name: str) -> None:
        with self._state_lock:
            remaining = [t for t in self._managed if t.name != name]
            if len(remaining) == len(self._managed):
                raise KeyError(f"No managed tool named {name!r} is registered.")
            self._managed = remaining
            self._refresh_approval_mode()

    def clear_tools(self) -> None:
        with self._state_lock:
            self._managed = []
            self._refresh_approval_mode()

    # -- runs ----------------------------------------------------------------------------------
    @property
    def limits(self) -> Limits:
        return self._codeact.limits

    def create_run_tool(self) -> ExecuteCodeTool:
        """A snapshot of this tool for one agent run (later changes do not affect it)."""
        with self._state_lock:
            run_tool = ExecuteCodeTool(
                tool_description_format=self._format,
                approval_mode=self._default_approval_mode,
                workspace_root=self._workspace_root,
                max_output_files=self._max_output_files,
                max_output_file_bytes=self._max_output_file_bytes,
                max_output_total_bytes=self._max_output_total_bytes,
                backend=self._codeact.backend,
                limits=self._codeact.limits,
                result_format=self._result_format,
                approval_scope=self._approval_scope,
                approval_handler=self._approval_handler,
                sessions=self._sessions,
                session_key=self._session_key,
                **self._pipeline_options,
            )
            run_tool._staging = self._staging  # snapshots of /input are shared
            run_tool._managed = list(self._managed)
            run_tool._described = dict(self._described)
            run_tool._file_mounts = dict(self._file_mounts)
            run_tool._allowed_domains = dict(self._allowed_domains)
            run_tool._refresh_approval_mode()
        return run_tool

    def build_serializable_state(self) -> dict[str, Any]:
        """The effective configuration as JSON values (kept in the session's state)."""
        with self._state_lock:
            check_grants(self._workspace_root, list(self._file_mounts.values()))
            fmt = self._format
            return {
                "backend": self._codeact.backend.name,
                "module": REFERENCE_GUEST_MODULE,
                "module_path": None,
                "limits": dataclasses.asdict(self._codeact.limits),
                "approval_mode": self.approval_mode,
                "approval_scope": self._approval_scope,
                "result_format": self._result_format,
                "max_output_files": self._max_output_files,
                "max_output_file_bytes": self._max_output_file_bytes,
                "max_output_total_bytes": self._max_output_total_bytes,
                "tool_names": [t.name for t in self._managed],
                "tool_description_format": dict(fmt) if isinstance(fmt, dict) else fmt,
                "filesystem_enabled": self._workspace_root is not None or bool(self._file_mounts),
                "workspace_root": str(self._workspace_root) if self._workspace_root else None,
                "file_mounts": [
                    {"host_path": str(m.host_path), "mount_path": m.mount_path}
                    for m in self.get_file_mounts()
                ],
                "network_enabled": bool(self._allowed_domains),
                "allowed_domains": [
                    {"target": d.target, "methods": list(d.methods) if d.methods else None}
                    for d in self.get_allowed_domains()
                ],
            }

    # -- helpers -------------------------------------------------------------------------------
    def _describe(self, tool: FunctionTool) -> Tool:
        """The sandbox's view of `tool` (cached by identity), for descriptions."""
        cached = self._described.get(id(tool))
        if cached is not None and cached[0] is tool:
            return cached[1]
        try:
            # With a block approved as a whole, the program is not told calls wait one by one.
            described = sandbox_tool_for(tool, None, gated=self._approval_scope != "block")
        except ConfigurationError:
            raise
        except Exception as exc:
            raise ConfigurationError(f"tool {tool.name!r} cannot be offered: {exc}") from exc
        self._described[id(tool)] = (tool, described)
        return described

    def _needs_approval(self) -> bool:
        return execute_code_needs_approval(
            scope=self._approval_scope,
            approval_mode=self._default_approval_mode,
            tools=self._managed,
        )

    def _refresh_approval_mode(self) -> None:
        self.approval_mode = "always_require" if self._needs_approval() else "never_require"
