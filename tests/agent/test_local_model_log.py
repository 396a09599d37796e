"""The embedded model's log says what ran: the server's own lines and one line per reply."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeact.chat.local import LocalModel, _turn_line
from codeact.chat.messages import ChatResponse, Usage


def test_each_reply_is_a_line_of_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEACT_CACHE_DIR", str(tmp_path))
    server = LocalModel()
    reply = ChatResponse(
        text="hi",
        usage=Usage(input_tokens=2000, output_tokens=300, total_tokens=2300),
        finish_reason="stop",
    )
    server.log(_turn_line(reply, 25.0))
    text = server.log_path.read_text()
    assert server.log_path == tmp_path / "logs" / "local-model.log"
    assert "reply in 25.0 s: 2,000 tokens read, 300 written, 12.0 tokens/s overall" in text
    assert text.endswith("finish: stop\n")
