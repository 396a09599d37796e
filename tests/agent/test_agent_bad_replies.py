"""The agent against a real chat-completions server on 127.0.0.1 whose replies are malformed:
a reply the model must redo goes back to the model; one that is no reply is one ChatError."""

from __future__ import annotations

import json

import pytest

from codeact import Agent, ChatError, CodeAct
from codeact.chat import OpenAIChat
from codeact.workloads import order_totals

from .conftest import FakeOpenAI, Reply, completion, events, raw, stream_chunk


def chat_for(server: FakeOpenAI, **kwargs: object) -> OpenAIChat:
    return OpenAIChat(base_url=server.url, model="m", env={}, backoff=0.01, **kwargs)  # type: ignore[arg-type]


def call_reply(name: object, arguments: object) -> Reply:
    reply = completion(None, [("x", {})])
    reply.body["choices"][0]["message"]["tool_calls"][0]["function"] = {
        "name": name,
        "arguments": arguments,
    }
    return reply


async def test_a_call_without_a_name_goes_back_to_the_model_to_redo(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.script(call_reply(None, "{}"), completion("I will call a tool next time."))
    chat = chat_for(fake_openai)
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("total?")
    await chat.aclose()
    assert result.text == "I will call a tool next time."
    answer = fake_openai.requests[1]["messages"][-1]
    assert answer["role"] == "tool"
    assert answer["content"] == "Error: the call names no tool; the tools are: execute_code"
    assert result.tool_calls[0].outcome == "unknown"


@pytest.mark.usefixtures("wasm_ready")
async def test_arguments_sent_as_an_object_are_read_as_that_object(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.script(call_reply("execute_code", {"code": "print(6 * 7)"}), completion("42"))
    chat = chat_for(fake_openai)
    agent = Agent(client=chat, codeact=CodeAct(tools=order_totals.TOOLS, backend="wasm"))
    result = await agent.run("6 * 7?")
    await chat.aclose()
    assert result.text == "42" and result.executions[0].stdout == "42\n"
    sent = fake_openai.requests[1]["messages"][2]["tool_calls"][0]["function"]
    assert json.loads(sent["arguments"]) == {"code": "print(6 * 7)"}  # sent back as text


async def test_a_reply_that_is_not_json_ends_the_run_with_one_chat_error(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.script(raw(b"{not json"), raw(b"{not json"))
    chat = chat_for(fake_openai, max_retries=1)
    with pytest.raises(ChatError, match="sent a reply that is not JSON after 2 attempts"):
        await Agent(client=chat, instructions="x").run("hi")
    await chat.aclose()


async def test_a_streamed_reply_cut_short_is_not_the_answer(fake_openai: FakeOpenAI) -> None:
    """A stream that stops after "Hel" (no finish_reason, no [DONE]) ended the run with the
    answer "Hel"; it is asked for again, and then one ChatError."""
    cut = events(stream_chunk({"role": "assistant", "content": "Hel"}))
    fake_openai.script(cut, cut)
    chat = chat_for(fake_openai, max_retries=1)
    chat.on_delta = lambda piece: None  # streamed, as `codeact demo` does
    with pytest.raises(ChatError, match=r"ended its streamed reply .* \(no finish_reason\)"):
        await Agent(client=chat, instructions="x").run("hi")
    await chat.aclose()
