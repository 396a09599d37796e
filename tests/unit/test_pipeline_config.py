"""Configuration mistakes in approvals and middleware fail at once, saying what to pass."""

from __future__ import annotations

from typing import Any

import pytest

from codeact import CodeAct, ConfigurationError, LogCalls, MockBackend, RateLimit


def sync_middleware(call: Any, call_next: Any) -> Any:
    return call_next(call)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"middleware": [sync_middleware]}, "must be an async function"),
        ({"middleware": [LogCalls]}, "is a class; pass an instance: LogCalls(...)"),
        ({"approval_scope": "everything"}, "approval_scope must be one of call, plan, block"),
        ({"approval_mode": "sometimes"}, "approval_mode must be"),
        ({"approval_timeout": 0}, "approval_timeout must be positive seconds or None"),
        ({"approval_handler": "yes"}, "approval_handler must be an async callable"),
        ({"redact": [1, 2]}, "redact must be a list of argument names or a function"),
    ],
)
def test_bad_settings_are_configuration_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CodeAct(backend=MockBackend(lambda code, call_tool: None), **kwargs)


def test_rate_limit_checks_its_numbers() -> None:
    with pytest.raises(ConfigurationError, match="positive integer"):
        RateLimit(0, per=1)
    with pytest.raises(ConfigurationError, match="positive seconds"):
        RateLimit(1, per=0)
    assert repr(RateLimit(5, per=60, tools="send_email")) == "<RateLimit 5 per 60s of send_email>"
