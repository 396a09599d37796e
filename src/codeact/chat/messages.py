"""The chat protocol: plain values for messages, tool definitions, tool calls, usage, replies.

Every chat client (the OpenAI-compatible one, the embedded model, the scripted one in
`codeact.testing`, or your own) speaks these types, so the agent loop never sees a vendor's
SDK objects. They map one to one onto the OpenAI chat-completions format (`to_openai`, and
back with `Message.from_openai`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

from .._nesting import loads_within

__all__ = [
    "ChatClient",
    "ChatResponse",
    "Message",
    "ResponseFormat",
    "Role",
    "ToolCall",
    "ToolChoice",
    "ToolDefinition",
    "Usage",
    "accepts_tool_choice",
    "complete_with",
]

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]

#: ``"required"``: the reply must call a tool (OpenAI's ``tool_choice``); ``"auto"``: the model
#: decides (what a request without it means).
ToolChoice: TypeAlias = Literal["auto", "required"]

#: A structured-output request: ``{"name": ..., "schema": {JSON schema}}``.
ResponseFormat: TypeAlias = dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for: the tool's name and its arguments as JSON text."""

    id: str
    name: str
    arguments: str = "{}"

    def __post_init__(self) -> None:
        # What a server (or a client) sent may be other JSON: the agent reads text. A missing
        # name is "" (a call of no tool, which the model is told to redo); arguments sent as
        # an object are that object's JSON.
        values: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        for key, value in values.items():
            if not isinstance(value, str):
                text = "" if value is None else json.dumps(value, ensure_ascii=False, default=str)
                object.__setattr__(self, key, text)

    def parsed_arguments(self) -> Any:
        """The arguments decoded from JSON (raises ValueError when they are not JSON, or are
        nested more than `codeact._nesting.MAX_JSON_DEPTH` levels)."""
        return loads_within(self.arguments or "{}")

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Message:
    """One message of a conversation.

    >>> Message.user("What is 2 + 2?").to_openai()
    {'role': 'user', 'content': 'What is 2 + 2?'}
    """

    role: Role
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  #: for role "tool": the call this message answers
    name: str | None = None  #: for role "tool": the tool's name

    @classmethod
    def system(cls, content: str) -> Message:
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str | None, tool_calls: Sequence[ToolCall] = ()) -> Message:
        return cls("assistant", content, tuple(tool_calls))

    @classmethod
    def tool(cls, call: ToolCall, content: str) -> Message:
        """The result of `call`, as the model will read it."""
        return cls("tool", content, tool_call_id=call.id, name=call.name)

    @classmethod
    def from_openai(cls, data: Mapping[str, Any]) -> Message:
        """The message `to_openai` gave, back (an OpenAI chat-completions message dict, e.g.
        one of a history stored as JSON). Raises ValueError, saying what is wrong, for a dict
        that is not such a message.

        >>> Message.from_openai({"role": "user", "content": "Hi"})
        Message(role='user', content='Hi', tool_calls=(), tool_call_id=None, name=None)
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a message is a dict, not {type(data).__name__}")
        role = data.get("role")
        if role not in _ROLES:
            raise ValueError(f"a message's role is one of {', '.join(_ROLES)}, not {role!r}")
        content = data.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError(f"a message's content is a str or None, not {type(content).__name__}")
        calls = data.get("tool_calls") or ()
        if not isinstance(calls, (list, tuple)):
            raise ValueError(f"a message's tool_calls are a list, not {type(calls).__name__}")
        tool_call_id, name = data.get("tool_call_id"), data.get("name")
        for key, value in (("tool_call_id", tool_call_id), ("name", name)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"a message's {key} is a str, not {type(value).__name__}")
        return cls(role, content, tuple(_tool_call(c) for c in calls), tool_call_id, name)

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.role == "tool":
            out["tool_call_id"] = self.tool_call_id
        return out


_ROLES: tuple[Role, ...] = ("system", "user", "assistant", "tool")


def _tool_call(data: Any) -> ToolCall:
    """A tool call back from its `ToolCall.to_openai` form."""
    function = data.get("function") if isinstance(data, Mapping) else None
    arguments = function.get("arguments", "{}") if isinstance(function, Mapping) else None
    if (
        not isinstance(function, Mapping)
        or not isinstance(data.get("id"), str)
        or not isinstance(function.get("name"), str)
        or not isinstance(arguments, str)
    ):
        # Said by its shape, never by its text: a value nested 100,000 deep has none.
        shape = sorted(str(k)[:40] for k in data)[:8] if isinstance(data, Mapping) else None
        raise ValueError(
            'a tool call is {"id": "...", "type": "function", "function": {"name": "...", '
            '"arguments": "<JSON text>"}}, not '
            + (f"a dict with the keys {shape}" if shape is not None else type(data).__name__)
        )
    return ToolCall(data["id"], function["name"], arguments)


@dataclass(frozen=True)
class ToolDefinition:
    """A tool as the model sees it: name, description, JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})

    def to_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True)
class Usage:
    """Tokens of one or more model calls, as the API reported them."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
        )


@dataclass(frozen=True)
class ChatResponse:
    """One reply of the model: text, native tool calls, and the tokens it cost."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None

    def to_message(self) -> Message:
        return Message.assistant(self.text, self.tool_calls)


@runtime_checkable
class ChatClient(Protocol):
    """What the agent loop needs from a model: one reply per call.

    A client has all three members below (`Agent` checks, `codeact.chat.default.check_client`).
    `model` names the model in reports; `aclose` releases what the client holds (it may do
    nothing). `complete` gets the whole conversation (the loop
    keeps it), the tools the model may call, and optionally a structured-output request.
    Failures raise `codeact.ChatError` with a one-line message.

    A client may also take ``tool_choice: ToolChoice | None = None`` in `complete` (the
    clients here do): the agent passes it (``"required"``, when a tool call is due, such as
    right after a failed program) only to a client whose `complete` has that parameter
    (`complete_with`), so clients written without it keep working.
    """

    @property
    def model(self) -> str: ...

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        response_format: ResponseFormat | None = None,
    ) -> ChatResponse: ...

    async def aclose(self) -> None: ...


async def complete_with(
    client: ChatClient,
    messages: Sequence[Message],
    *,
    tools: Sequence[ToolDefinition] = (),
    response_format: ResponseFormat | None = None,
    tool_choice: ToolChoice | None = None,
) -> ChatResponse:
    """`client.complete`, with `tool_choice` passed only to a client that takes it."""
    if tool_choice is not None and accepts_tool_choice(client):
        complete: Any = client.complete
        return await complete(  # type: ignore[no-any-return]
            messages, tools=tools, response_format=response_format, tool_choice=tool_choice
        )
    return await client.complete(messages, tools=tools, response_format=response_format)


def accepts_tool_choice(client: object) -> bool:
    """Whether `client.complete` takes ``tool_choice`` (by name or through ``**kwargs``)."""
    try:
        parameters = inspect.signature(client.complete).parameters  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return False
    return "tool_choice" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
