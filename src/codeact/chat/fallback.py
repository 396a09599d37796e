"""Tool calls that a model wrote as text instead of as native tool calls.

Small models often know *that* they should call a tool but not how: the embedded 1.5B model
answers a tools request with a fenced JSON object (``{"name": ..., "arguments": ...}``) or,
for `execute_code`, with a fenced Python program, and never with a native tool call
(DESIGN.md, Models: 0 native calls in 12). This parser recovers those calls. The agent loop
uses it only when a reply has no native tool call, counts every reply it rescued
(`AgentResult.usage.fallback_parses`), and the benchmark reports that count: a model that
needs it is not doing native function calling, and the numbers say so.

Recognised, in this order (the first kind found wins):

1. ``<tool_call>{...}</tool_call>`` blocks (the Hermes/Qwen convention);
2. JSON objects (or lists of them) naming an offered tool, fenced or bare, in any of the
   shapes ``{"name", "arguments"|"parameters"|"args"}`` or ``{"function": {...}}``;
3. when a code tool (``execute_code``) is offered and `fences` is on: the first fenced block
   that is the model's program rather than code its answer shows the user (an example, a
   draft, a shell command; `codeact.chat.fence_programs`), as its ``code`` argument.

A JSON object whose ``name`` is not an offered tool is ignored, so an answer that merely
contains JSON is not mistaken for a call.

A program recovered for the code tool whose quotes are still JSON-escaped (``user[\\"id\\"]``,
copied by the model from how its earlier calls appear in the conversation) is unescaped, but
only when that turns a syntax error into a program that parses.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Collection
from typing import Any

from .._nesting import embedded_json, loads_within
from .fence_programs import is_program_fence, presents_code
from .messages import ToolCall

__all__ = ["parse_text_tool_calls"]

_TOOL_CALL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.S)
#: Keys of a JSON schema: small models sometimes echo a tool's schema as its arguments.
_SCHEMA_KEYS = {"type", "properties", "required", "additionalProperties", "title", "$defs"}


def parse_text_tool_calls(
    text: str | None,
    tool_names: Collection[str],
    *,
    code_tool: str | None = None,
    id_prefix: str = "text_call",
    fences: bool = True,
    code_functions: Collection[str] = (),
) -> list[ToolCall]:
    """The tool calls written in `text`, or ``[]`` when there are none.

    Args:
        text: The model's reply.
        tool_names: Names of the tools offered in that request; only these are recognised.
        code_tool: Name of the tool that takes ``{"code": ...}`` (e.g. ``execute_code``);
            when given, a fenced Python block counts as a call of it.
        id_prefix: Prefix of the ids given to the recovered calls (``<prefix>_<n>``).
        fences: Whether a fenced program may be a call of `code_tool` at all (off for a
            model that calls tools natively: its fences are answers).
        code_functions: The functions a program of `code_tool` can call: an untagged fence
            is a program only when it calls one of them.
    """
    if not text or not tool_names:
        return []
    found: list[tuple[str, dict[str, Any]]] = []
    for body in _TOOL_CALL_TAG.findall(text):
        found += _calls_in_json_text(body, tool_names)
    if not found:
        for lang, body in _FENCE.findall(text):
            if lang.lower() in ("json", "", "tool_call", "javascript"):
                found += _calls_in_json_text(body, tool_names)
    if not found:
        found = _calls_in_json_text(text, tool_names)
    if not found and fences and code_tool and code_tool in tool_names and not presents_code(text):
        for lang, body in _FENCE.findall(text):
            program = is_program_fence(lang, body, code_functions=code_functions)
            if program and not _looks_like_json(body):
                found.append((code_tool, {"code": body.strip("\n")}))
                break
    for name, args in found:
        if name == code_tool and isinstance(args.get("code"), str):
            args["code"] = _unescape_if_broken(args["code"])
    return [
        ToolCall(id=f"{id_prefix}_{n}", name=name, arguments=json.dumps(args, ensure_ascii=False))
        for n, (name, args) in enumerate(found, 1)
    ]


def _parses(code: str) -> bool:
    try:
        compile(code, "<code>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # the last two: too deep
        return False
    return True


def _unescape_if_broken(code: str) -> str:
    """`code` with JSON-escaped quotes undone, if that is what keeps it from parsing."""
    if '\\"' not in code and "\\'" not in code:
        return code
    if _parses(code):
        return code
    fixed = code.replace('\\"', '"').replace("\\'", "'")
    return fixed if _parses(fixed) else code


def _looks_like_json(body: str) -> bool:
    stripped = body.strip()
    if not stripped.startswith(("{", "[")):
        return False
    try:
        loads_within(stripped)
    except ValueError:
        return False
    return True


def _calls_in_json_text(text: str, tool_names: Collection[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every tool call found in the JSON values embedded anywhere in `text`."""
    decoder = json.JSONDecoder(strict=False)  # raw newlines in a "code" string are common
    calls: list[tuple[str, dict[str, Any]]] = []
    for value in embedded_json(text, decoder):
        items = value if isinstance(value, list) else [value]
        calls += [c for c in (_as_call(item, tool_names) for item in items) if c is not None]
    return calls


def _as_call(value: Any, tool_names: Collection[str]) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):
        value = value["function"]
    name = value.get("name", value.get("tool"))
    if not isinstance(name, str) or name not in tool_names:
        return None
    args: Any = {}
    for key in ("arguments", "parameters", "args", "input"):
        if key in value:
            args = value[key]
            break
    if isinstance(args, str):
        try:
            args = loads_within(args) if args.strip() else {}
        except ValueError:
            return None
    if not isinstance(args, dict):
        return None
    if "properties" in args and set(args) <= _SCHEMA_KEYS:
        args = {}  # the model echoed the schema instead of filling it in
    return name, args
