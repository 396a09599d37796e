"""A scripted chat client of Agent Framework's own kind, for tests that need no model.

It is a real framework chat client (the framework's function-invocation, chat-middleware and
telemetry layers over `BaseChatClient`); only the model is replaced by a script. Each step of
the script is a `Message` to reply with, or a function of the request's messages that returns
one (to answer with what a tool returned). `requests` records what the model was sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from agent_framework import (
    BaseChatClient,
    ChatMiddlewareLayer,
    ChatResponse,
    Content,
    FunctionInvocationLayer,
    Message,
)
from agent_framework.observability import ChatTelemetryLayer

Step = Message | Callable[[list[Message]], Message]


class ScriptedChatClient(
    FunctionInvocationLayer[Any],
    ChatMiddlewareLayer[Any],
    ChatTelemetryLayer[Any],
    BaseChatClient[Any],
):
    """Replies with the next step of `script` on every model request."""

    def __init__(self, script: Sequence[Step], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.script = list(script)
        self.requests: list[tuple[list[Message], dict[str, Any]]] = []

    def _inner_get_response(
        self, *, messages: Sequence[Message], stream: bool, options: Any, **kwargs: Any
    ) -> Any:
        if stream:
            raise AssertionError("the scripted client does not stream")
        return self._reply(list(messages), dict(options))

    async def _reply(self, messages: list[Message], options: dict[str, Any]) -> ChatResponse:
        self.requests.append((messages, options))
        if not self.script:
            raise AssertionError("the model was asked more often than the script expected")
        step = self.script.pop(0)
        message = step(messages) if callable(step) else step
        return ChatResponse(messages=[message])

    def tools_sent(self, request: int = 0) -> list[Any]:
        return list(self.requests[request][1].get("tools") or [])

    def instructions_sent(self, request: int = 0) -> str:
        messages, options = self.requests[request]
        parts = [str(options.get("instructions") or "")]
        parts += [m.text for m in messages if m.role == "system"]
        return "\n".join(parts)


def run_code(code: str, call_id: str = "call-1") -> Message:
    """The model's turn that calls execute_code with `code`."""
    return Message(
        role="assistant",
        contents=[
            Content.from_function_call(
                call_id=call_id, name="execute_code", arguments={"code": code}
            )
        ],
    )


def last_tool_result(messages: Sequence[Message]) -> str:
    """The text of the last function result the model was sent: its items (an error item too;
    the framework's joined ``result`` string holds only the text items), or its result."""
    results = [c for m in messages for c in m.contents if c.type == "function_result"]
    if not results:
        raise AssertionError("the model was sent no function result")
    result = results[-1].items or results[-1].result
    if isinstance(result, list):
        return "\n".join(_content_text(c) for c in result)
    return str(result)


def _content_text(content: Any) -> str:
    """A text item's text; an error item as its message and details (the program's stderr)."""
    if getattr(content, "type", None) == "error":
        return f"{content.message}: {content.error_details}"
    return getattr(content, "text", None) or str(content)


def answer_with_result(prefix: str = "The program said: ") -> Callable[[list[Message]], Message]:
    """A step that answers with the last function result the model was sent."""

    def step(messages: list[Message]) -> Message:
        return Message(role="assistant", contents=[prefix + last_tool_result(messages)])

    return step
