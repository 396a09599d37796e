"""`ExecuteCodeTool`: the one tool a CodeAct model gets, in a form any agent loop can register."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .instructions import EXECUTE_CODE_PARAMETERS

if TYPE_CHECKING:
    from .codeact import CodeAct
    from .result import ExecutionResult

__all__ = ["ExecuteCodeTool"]


class ExecuteCodeTool:
    """`execute_code`: name, description, JSON schema of `{code}`, and an async callable.

    Calling it runs the code and returns the text the model should read;
    `run` returns the full `ExecutionResult` instead. The description is built when read,
    so tools added to the CodeAct later are listed too.
    """

    def __init__(self, codeact: CodeAct, *, name: str = "execute_code") -> None:
        self.codeact = codeact
        self.name = name
        self.last_result: ExecutionResult | None = None

    @property
    def description(self) -> str:
        return self.codeact.tool_description()

    @property
    def parameters(self) -> dict[str, Any]:
        return EXECUTE_CODE_PARAMETERS

    async def run(self, code: str) -> ExecutionResult:
        result = await self.codeact.execute(code)
        self.last_result = result
        return result

    async def __call__(self, code: str) -> str:
        return (await self.run(code)).to_model_text()

    def to_openai(self) -> dict[str, Any]:
        """The tool in the OpenAI chat-completions `tools` format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def __repr__(self) -> str:
        return f"<ExecuteCodeTool {self.name!r} over {self.codeact!r}>"
