"""`ExecuteCodeTool`: the one tool a CodeAct model gets, in a form any agent loop can register."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .instructions import EXECUTE_CODE_PARAMETERS

if TYPE_CHECKING:
    from .codeact import CodeAct
    from .events import ExecutionEvent
    from .result import ExecutionResult
    from .session import Session

__all__ = ["ExecuteCodeTool"]


class ExecuteCodeTool:
    """`execute_code`: name, description, JSON schema of `{code}`, and an async callable.

    Calling it runs the code and returns the text the model should read;
    `run` returns the full `ExecutionResult` instead. The description is built when read,
    so tools added to the CodeAct later are listed too. With a `session` (or
    ``persistent=True`` and a session given to each `run`), calls share a session's state and
    the description tells the model so.
    """

    def __init__(
        self,
        codeact: CodeAct,
        *,
        name: str = "execute_code",
        session: Session | None = None,
        persistent: bool = False,
    ) -> None:
        self.codeact = codeact
        self.name = name
        self.session = session
        self.persistent = persistent or session is not None
        self.last_result: ExecutionResult | None = None

    @property
    def description(self) -> str:
        return self.codeact.tool_description(session=self.persistent)

    @property
    def parameters(self) -> dict[str, Any]:
        return EXECUTE_CODE_PARAMETERS

    async def run(
        self,
        code: str,
        *,
        session: Session | None = None,
        call_id: str | None = None,
        on_event: Callable[[ExecutionEvent], Any] | None = None,
    ) -> ExecutionResult:
        """Run `code` (in `session`, or the tool's own session if it has one); `call_id` is
        the model's id of the call, for the execution's span, and `on_event` is called with
        each event of the run (see `CodeAct.execute`)."""
        session = session or self.session
        runner = session.execute if session else self.codeact.execute
        result = await runner(code, call_id=call_id, on_event=on_event)
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
