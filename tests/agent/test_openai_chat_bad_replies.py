"""`OpenAIChat` and replies that are not what they should be, from a real chat-completions
HTTP server on 127.0.0.1: a body that is no chat completion, fields of other types than the
agent reads, streamed replies with a bad event or cut before they finish."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codeact import ChatError
from codeact.chat import Message, OpenAIChat, ToolCall

from .conftest import ADD, FakeOpenAI, Reply, chat_for, completion, events, raw, stream_chunk


def body(data: dict[str, Any] | list[Any]) -> Reply:
    return raw(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (raw(b"{not json"), "sent a reply that is not JSON after 2 attempts: '{not json'"),
        (raw(b"<html>\n<b>proxy login</b></html>", "text/html"), "not a chat completion"),
        (body([1, 2]), "sent a reply that is not a chat completion after 2 attempts"),
        (body({}), "returned no reply after 2 attempts"),
        (body({"choices": []}), "returned no reply"),
        (body({"choices": [{"message": None}]}), "returned a reply without a message"),
        (body({"choices": [3]}), "returned a reply without a message"),
        (body({"error": {"message": "upstream\nfailed"}}), "sent an error instead of a reply"),
    ],
)
async def test_a_reply_that_is_no_chat_completion_is_retried_then_one_chat_error(
    fake_openai: FakeOpenAI, reply: Reply, said: str
) -> None:
    """A 200 whose body is not a chat completion (not JSON, HTML from a proxy, no message):
    asked for again, as after a 5xx, then one ChatError line (not a JSONDecodeError or an
    AttributeError from deep inside)."""
    fake_openai.script(reply, reply)
    chat = chat_for(fake_openai, max_retries=1)
    with pytest.raises(ChatError) as caught:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    message = str(caught.value)
    assert said in message and fake_openai.url in message and "\n" not in message
    assert len(fake_openai.requests) == 2 and caught.value.__cause__ is not None


async def test_a_reply_that_is_not_json_once_is_asked_for_again(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(raw(b"{not json"), completion("fine"))
    chat = chat_for(fake_openai, max_retries=1)
    response = await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert response.text == "fine" and len(fake_openai.requests) == 2


async def test_every_field_of_a_reply_is_read_as_the_type_the_agent_reads(
    fake_openai: FakeOpenAI,
) -> None:
    """Tool calls with a null name, arguments as an object or null, an id that is a number or
    missing; content as a list of parts; counts as strings or null: coerced, never a crash."""
    calls = [
        {"id": 7, "type": "function", "function": {"name": None, "arguments": "{}"}},
        {"type": "function", "function": {"name": "add", "arguments": {"a": 1}}},
        {"id": "c3", "type": "function", "function": {"name": "add", "arguments": None}},
        {"id": "c4", "type": "custom", "custom": {"name": "x", "input": ""}},  # not a function
        "junk",
    ]
    fake_openai.script(
        body(
            {
                "model": 5,
                "choices": [
                    {
                        "message": {
                            "content": [{"type": "text", "text": "Hel"}, {"text": "lo"}, 3],
                            "tool_calls": calls,
                        },
                        "finish_reason": 1,
                    }
                ],
                "usage": {"prompt_tokens": "12", "completion_tokens": None, "total_tokens": 3.0},
            }
        )
    )
    chat = chat_for(fake_openai, max_retries=0)
    response = await chat.complete([Message.user("hi")], tools=[ADD])
    await chat.aclose()
    assert response.text == "Hello"
    first, second, third = response.tool_calls
    assert (first.id, first.name, first.arguments) == ("7", "", "{}")
    assert second.name == "add" and json.loads(second.arguments) == {"a": 1}
    assert second.id.startswith("call_")
    assert (third.id, third.arguments) == ("c3", "{}")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 0)
    assert response.usage.total_tokens == 3
    assert response.finish_reason is None and response.model is None


def test_a_tool_call_holds_text_whatever_it_was_made_with() -> None:
    """Any client's calls (not only OpenAIChat's) reach the agent with text in every field."""
    made: Any = ToolCall(id=None, name=None, arguments={"code": "print(1)"})  # type: ignore[arg-type]
    assert (made.id, made.name) == ("", "") and json.loads(made.arguments) == {"code": "print(1)"}


def streaming_chat(server: FakeOpenAI, **kwargs: Any) -> tuple[OpenAIChat, list[str]]:
    chat = chat_for(server, **kwargs)
    pieces: list[str] = []
    chat.on_delta = pieces.append
    return chat, pieces


HEL = stream_chunk({"role": "assistant", "content": "Hel"})


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (events(HEL, "{this is not json", "[DONE]"), "sent an event that is not JSON"),
        (
            events(HEL, {"error": {"message": "overloaded\nmid-stream"}}),
            "sent an error in the middle of its reply after 2 attempts: 'overloaded mid-stream'",
        ),
    ],
)
async def test_a_streamed_reply_with_a_bad_event_is_retried_then_one_chat_error(
    fake_openai: FakeOpenAI, reply: Reply, said: str
) -> None:
    fake_openai.script(reply, reply)
    chat, _ = streaming_chat(fake_openai, max_retries=1)
    with pytest.raises(ChatError) as caught:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    message = str(caught.value)
    assert said in message and fake_openai.url in message and "\n" not in message
    assert len(fake_openai.requests) == 2


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (events(HEL), "ended its streamed reply before the reply did (no finish_reason)"),
        (events(HEL, "[DONE]"), "no finish_reason"),
        (raw(b"<html>proxy login</html>", "text/html"), "with text/html, not an event stream"),
        (raw(b"{not json"), "with application/json, not an event stream"),
    ],
)
async def test_a_stream_that_ends_before_the_reply_is_retried_then_one_chat_error(
    fake_openai: FakeOpenAI, reply: Reply, said: str
) -> None:
    """A stream is a reply only once it says why it finished: one cut after "Hel" is not the
    answer "Hel", and a body that is no event stream is not an empty answer."""
    fake_openai.script(reply, reply)
    chat, _ = streaming_chat(fake_openai, max_retries=1)
    with pytest.raises(ChatError) as caught:
        await chat.complete([Message.user("hi")])
    await chat.aclose()
    message = str(caught.value)
    assert said in message and "after 2 attempts" in message and "\n" not in message
    assert len(fake_openai.requests) == 2


async def test_a_stream_cut_once_is_read_again_from_its_start(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(events(HEL), completion("Hello there"))
    chat, pieces = streaming_chat(fake_openai, max_retries=1)
    response = await chat.complete([Message.user("hi")])
    await chat.aclose()
    assert response.text == "Hello there " and response.finish_reason == "stop"
    assert pieces == ["Hel", "Hello ", "there "]  # the second reading's pieces follow the first's


async def test_every_field_of_a_streamed_reply_is_read_as_the_type_the_agent_reads(
    fake_openai: FakeOpenAI,
) -> None:
    """Chunks without a delta or choices, calls sent whole without an index, arguments as an
    object, a null name: one reply, as the non-streamed one would be."""
    whole = {"id": "a", "function": {"name": "add", "arguments": {"a": 1}}}
    fake_openai.script(
        events(
            {"choices": "none"},
            stream_chunk(None),  # type: ignore[arg-type]
            stream_chunk({"tool_calls": [whole]}),
            stream_chunk({"tool_calls": [{"id": "b", "function": {"name": None}}]}),
            stream_chunk({"tool_calls": [{"function": {"arguments": '{"a": 2}'}}]}),
            stream_chunk({}, "tool_calls"),
            "[DONE]",
        )
    )
    chat, pieces = streaming_chat(fake_openai, max_retries=0)
    response = await chat.complete([Message.user("hi")], tools=[ADD])
    await chat.aclose()
    assert response.tool_calls == (
        ToolCall("a", "add", '{"a": 1}'),
        ToolCall("b", "", '{"a": 2}'),
    )
    assert pieces == ['{"a": 1}', '{"a": 2}'] and response.finish_reason == "tool_calls"
    assert response.usage.output_tokens == 2  # no usage sent: one per piece


async def test_a_stream_of_several_choices_is_read_as_choice_0(fake_openai: FakeOpenAI) -> None:
    """As a reply that is not streamed: the other choices' text and calls are not the reply's
    (nor run together with it), with an index or, without one, after the chunk's first."""
    base = stream_chunk({})
    one_chunk = {
        **base,
        "choices": [
            {"delta": {"content": "C"}, "finish_reason": None},
            {"delta": {"content": "D"}, "finish_reason": None},
        ],
    }
    call = {"index": 0, "id": "x", "function": {"name": "add", "arguments": "{}"}}
    fake_openai.script(
        events(
            {**base, "choices": [{"index": 1, "delta": {"content": "B"}, "finish_reason": None}]},
            stream_chunk({"content": "A"}),
            {**base, "choices": [{"index": 1, "delta": {"tool_calls": [call]}}]},
            one_chunk,
            {**base, "choices": [{"index": 1, "delta": {}, "finish_reason": "tool_calls"}]},
            stream_chunk({}, "stop"),
            "[DONE]",
        )
    )
    chat, pieces = streaming_chat(fake_openai, max_retries=0)
    response = await chat.complete([Message.user("hi")], tools=[ADD])
    await chat.aclose()
    assert (response.text, response.tool_calls, response.finish_reason) == ("AC", (), "stop")
    assert pieces == ["A", "C"]
