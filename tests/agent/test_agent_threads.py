"""An `Agent` used from several threads at once makes one default chat client, not one per
thread (the others would never be closed)."""

from __future__ import annotations

import threading
import time

import pytest

from codeact import Agent
from codeact.agent import agent as agent_module
from codeact.chat.messages import ChatClient
from codeact.testing import ScriptedChat


def test_the_first_uses_from_several_threads_make_one_default_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[ChatClient] = []

    def slow_default_client() -> ChatClient:
        time.sleep(0.05)  # as making a real client takes a moment
        client = ScriptedChat(["done"])
        made.append(client)
        return client

    monkeypatch.setattr(agent_module, "default_client", slow_default_client)
    agent = Agent()
    start = threading.Barrier(4)
    seen: list[ChatClient] = []

    def first_use() -> None:
        start.wait()
        seen.append(agent.client)

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(made) == 1
    assert seen == made * 4
