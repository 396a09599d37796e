"""Bytes cross between a program and its tools as base64 text, both ways: a tool's bytes
result arrives as base64, and a bytes parameter takes base64 back (that result included).
Before, a bytes parameter took the text's UTF-8: `write_blob(data=read_blob())` stored the
base64 characters instead of the bytes, silently, and the model was told nothing of base64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from typing_extensions import TypedDict

from codeact import CodeAct, tool

BLOB = b"\x00\x01hello\xff"
STORED: list[object] = []


class Attachment(TypedDict):
    name: str
    data: bytes


@tool
def read_blob() -> bytes:
    """Read the blob."""
    return BLOB


@tool
def write_blob(data: bytes) -> int:
    """Store data; returns its size."""
    STORED.append(data)
    return len(data)


@tool
def attach(files: list[Attachment]) -> list[int]:
    """Attach files; returns their sizes."""
    STORED.append([f["data"] for f in files])
    return [len(f["data"]) for f in files]


async def test_a_bytes_result_passed_back_is_the_same_bytes(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=[read_blob, write_blob, attach])
    STORED.clear()
    result = await codeact.execute(
        "import base64\n"
        "text = read_blob()\n"
        "write_blob(data=text)\n"
        "attach(files=[{'name': 'a', 'data': base64.b64encode(b'hi').decode()}])\n"
        "base64.b64decode(text)"
    )
    assert result.ok, result.error
    assert STORED == [BLOB, [b"hi"]]
    assert result.value_repr == repr(BLOB)  # the program decodes it back to the bytes


async def test_bytes_that_are_not_base64_and_bytes_objects_are_refused_with_the_fix(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(tools=[write_blob])
    STORED.clear()
    result = await codeact.execute(
        "for data in ('hello', b'hello'):\n"
        "    try:\n"
        "        write_blob(data=data)\n"
        "    except (ToolError, TypeError) as e:\n"
        "        print(type(e).__name__, e)\n"
    )
    assert result.ok, result.error
    first, second = result.stdout.splitlines()
    assert first.startswith("ToolError") and "base64" in first
    assert second.startswith("TypeError") and "base64.b64encode(data).decode()" in second
    assert STORED == []


def test_the_model_is_told_that_bytes_travel_as_base64() -> None:
    description = CodeAct(tools=[read_blob, write_blob]).execute_code_tool().description
    assert "write_blob(data: str) -> int: Store data; returns its size. Bytes travel as " in (
        description
    )
    assert "data is bytes: pass base64 text" in description
    assert "the bytes in its result come as base64 text" in description


@tool
def write_labelled(data: bytes, files: list[Attachment], label: str = "") -> list[object]:
    """Store data and attachments under a label."""
    stored: list[object] = [data, [f["data"] for f in files], label]
    STORED.append(stored)
    return [len(data), label]


async def test_middleware_and_the_audit_see_bytes_as_the_base64_sent(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # b"abcd" is valid UTF-8: it was shown as 'abcd', and a middleware passing the arguments
    # back (replace_arguments, as documented) had 'abcd' decoded as base64: b'i\xb7\x1d'.
    seen: list[dict[str, object]] = []

    async def relabel(call: Any, call_next: Any) -> Any:
        seen.append(dict(call.arguments))
        call.replace_arguments({**call.arguments, "label": "checked"})
        return await call_next(call)

    codeact = make_codeact(tools=[write_labelled], middleware=[relabel])
    STORED.clear()
    sent = {
        "data": "YWJjZA==",  # b"abcd"
        "files": [
            {"name": "a", "data": "aGk="},
            {"name": "b", "data": "+/8="},
        ],  # b"hi", b"\xfb\xff"
    }
    result = await codeact.execute(f"write_labelled(**{sent!r})")
    assert result.ok, result.error
    assert STORED == [[b"abcd", [b"hi", b"\xfb\xff"], "checked"]]
    assert seen == [sent]  # the text sent, in its own alphabet
    assert result.tool_calls[0].arguments == {**sent, "label": "checked"}
