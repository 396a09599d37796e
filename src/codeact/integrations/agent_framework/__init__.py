"""A drop-in CodeAct provider for Microsoft Agent Framework, on codeact's sandbox.

Switching from Microsoft's Hyperlight package is a change of import::

    # from agent_framework_hyperlight import HyperlightCodeActProvider
    from codeact.integrations.agent_framework import CodeActProvider as HyperlightCodeActProvider

`CodeActProvider` and `ExecuteCodeTool` take the reference's arguments and have its methods.
What differs: programs run in codeact's sandbox (no hypervisor needed), get tools as plain
Python functions, tracebacks and limits (`limits=Limits(...)`), and every nested tool call runs
through the framework's function invocation, so the agent's function middleware sees it.
Approval works as in the reference by default (the framework approves whole blocks);
``approval_scope="call"`` with an ``approval_handler`` gates each call inside the program
instead (see `codeact.integrations.agent_framework._approvals`), and
``middleware``/``redact``/``audit`` give nested calls codeact's pipeline. Needs
``pip install 'codeact[agent-framework]'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_framework import AgentSession, ContextProvider, FunctionTool, SessionContext

from ._execute_code_tool import ExecuteCodeTool
from ._grants import AllowedDomain, AllowedDomainInput, FileMount, FileMountInput
from ._nested_calls import NESTED_CALL_KEY
from ._options import ToolsInput

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

    Takes the arguments of `ExecuteCodeTool` (and the reference's `source_id`); tools given here
    are called by the program, not offered to the model directly.

    >>> codeact = CodeActProvider(tools=[get_weather], limits=Limits(wall_time=10))
    >>> agent = Agent(client=client, context_providers=[codeact])  # doctest: +SKIP
    """

    DEFAULT_SOURCE_ID = "codeact"

    def __init__(self, source_id: str = DEFAULT_SOURCE_ID, **options: Any) -> None:
        super().__init__(source_id)
        self._execute_code_tool = ExecuteCodeTool(**options)

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
        state[self.source_id] = run_tool.build_serializable_state()
        context.extend_instructions(
            self.source_id, run_tool.build_instructions(tools_visible_to_model=False)
        )
        context.extend_tools(self.source_id, [run_tool])
