"""Test your agents without a model: chat clients whose replies your test decides.

`ScriptedChat` plays back replies in order; `FunctionChat` computes each reply with your
function (which sees the conversation). Both record every request, and both report token
usage (given, or estimated from the text at about four characters a token), so tests can
check usage sums.

>>> import asyncio
>>> from codeact import Agent
>>> from codeact.testing import ScriptedChat, call
>>> def add(a: int, b: int) -> int:
...     '''Add two numbers.'''
...     return a + b
>>> chat = ScriptedChat([call("add", a=2, b=3), "2 + 3 = 5"])
>>> result = Agent(client=chat, tools=[add]).run_sync("What is 2 + 3?")
>>> result.text, result.usage.direct_tool_calls, chat.requests[1].messages[-1].content
('2 + 3 = 5', 1, '5')
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from .chat.messages import (
    ChatResponse,
    Message,
    ResponseFormat,
    ToolCall,
    ToolChoice,
    ToolDefinition,
    Usage,
)
from .errors import ChatError

__all__ = [
    "ChatRequest",
    "FunctionChat",
    "Reply",
    "ScriptedChat",
    "call",
    "code_call",
    "estimate_tokens",
    "reply",
]

_ids = itertools.count(1)

#: What a script entry or a reply function may give: the text of a final answer, one tool
#: call, several tool calls (one turn), or a full `ChatResponse`.
Reply: TypeAlias = "str | ToolCall | Sequence[ToolCall] | ChatResponse"


@dataclass(frozen=True)
class ChatRequest:
    """One request an agent made: the conversation, the tools offered, the output format,
    and ``"required"`` when the agent asked for a tool call (`tool_choice`)."""

    messages: tuple[Message, ...]
    tools: tuple[ToolDefinition, ...]
    response_format: ResponseFormat | None
    tool_choice: ToolChoice | None = None

    @property
    def tool_names(self) -> list[str]:
        return [t.name for t in self.tools]


def call(name: str, /, **arguments: Any) -> ToolCall:
    """A tool call of `name` with keyword `arguments`: ``call("get_weather", city="Paris")``."""
    return ToolCall(id=f"call_{next(_ids)}", name=name, arguments=json.dumps(arguments))


def code_call(code: str, *, tool: str = "execute_code") -> ToolCall:
    """A call of the ``execute_code`` tool with `code`."""
    return call(tool, code=code)


def reply(
    text: str | None = None,
    *calls: ToolCall,
    usage: Usage | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
) -> ChatResponse:
    """A reply with text and/or tool calls and, optionally, the usage the API would report."""
    if usage is None and (input_tokens is not None or output_tokens is not None):
        i, o = input_tokens or 0, output_tokens or 0
        usage = Usage(i, o, i + o)
    return ChatResponse(text=text, tool_calls=tuple(calls), usage=usage or _UNSET)


def estimate_tokens(text: str) -> int:
    """About four characters a token, at least one for non-empty text."""
    return (len(text) + 3) // 4


_UNSET = Usage(-1, -1, -1)  # marks "estimate this reply's usage"


class ScriptedChat:
    """A chat client that answers with the given replies, in order.

    Each entry is a `Reply` (see there) or a function ``(request) -> Reply`` (sync or async)
    for a reply that depends on the conversation. Running out of replies raises `ChatError`.

    Args:
        replies: The script.
        model: The name reported as the model.
    """

    def __init__(
        self,
        replies: Iterable[Reply | Callable[[ChatRequest], Reply | Awaitable[Reply]]],
        *,
        model: str = "scripted",
    ) -> None:
        self._script = list(replies)
        self._model = model
        self.requests: list[ChatRequest] = []
        self.closed = False

    @property
    def model(self) -> str:
        return self._model

    @property
    def remaining(self) -> int:
        """Replies not used yet."""
        return len(self._script) - len(self.requests)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        response_format: ResponseFormat | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> ChatResponse:
        request = ChatRequest(tuple(messages), tuple(tools), response_format, tool_choice)
        index = len(self.requests)
        self.requests.append(request)
        if index >= len(self._script):
            raise ChatError(
                f"ScriptedChat has no reply left: the agent made request {index + 1} "
                f"but the script has {len(self._script)}"
            )
        entry: Any = self._script[index]
        if callable(entry) and not isinstance(entry, (ToolCall, ChatResponse)):
            entry = entry(request)
            if inspect.isawaitable(entry):
                entry = await entry
        return _to_response(entry, request)

    async def aclose(self) -> None:
        self.closed = True


class FunctionChat(ScriptedChat):
    """A chat client whose every reply is ``fn(request)`` (sync or async), like pydantic-ai's
    FunctionModel: the function sees the whole conversation and decides."""

    def __init__(
        self,
        fn: Callable[[ChatRequest], Reply | Awaitable[Reply]],
        *,
        model: str = "function",
    ) -> None:
        super().__init__([], model=model)
        self.fn = fn

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        response_format: ResponseFormat | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> ChatResponse:
        request = ChatRequest(tuple(messages), tuple(tools), response_format, tool_choice)
        self.requests.append(request)
        entry: Any = self.fn(request)
        if inspect.isawaitable(entry):
            entry = await entry
        return _to_response(entry, request)


def _to_response(entry: Any, request: ChatRequest) -> ChatResponse:
    if isinstance(entry, str):
        response = ChatResponse(text=entry, usage=_UNSET)
    elif isinstance(entry, ToolCall):
        response = ChatResponse(tool_calls=(entry,), usage=_UNSET)
    elif isinstance(entry, ChatResponse):
        response = entry
    elif isinstance(entry, Sequence) and all(isinstance(c, ToolCall) for c in entry):
        response = ChatResponse(tool_calls=tuple(entry), usage=_UNSET)
    else:
        raise TypeError(
            "a scripted reply must be a str, a ToolCall, a list of ToolCalls or a "
            f"ChatResponse, got {type(entry).__name__}"
        )
    if response.usage is _UNSET or response.usage == _UNSET:
        prompt = sum(estimate_tokens(m.content or "") for m in request.messages)
        prompt += sum(estimate_tokens(json.dumps(t.to_openai())) for t in request.tools)
        out = estimate_tokens(response.text or "") + sum(
            estimate_tokens(c.name + c.arguments) for c in response.tool_calls
        )
        response = ChatResponse(
            text=response.text,
            tool_calls=response.tool_calls,
            usage=Usage(prompt, out, prompt + out),
            finish_reason="tool_calls" if response.tool_calls else "stop",
            model=response.model,
        )
    return response
