"""What redaction hides stays hidden in every text recorded or logged about a call.

The record's error and reason, LogCalls' lines and the redactor's own failure: a value may
appear whole, cut short (an invalid argument's echo shows 57 characters of it, a long error
4,000), or in arguments a middleware put in place of the program's.
"""

from __future__ import annotations

import io
import logging
from typing import Annotated, Any

import pytest
from pydantic import Field

from codeact import JsonlAudit, LogCalls, tool
from codeact.calls import ToolInvocation
from codeact.calls.audit import scrub
from codeact.calls.middleware import CallNext
from codeact.calls.pipeline import ToolPipeline

SECRET = "sk-proj-Q7xv9LmN2pR4tY8wZ1bC3dF5gH6jK0aSQ7xv9LmN2pR4tY8wZ1bC3dF5gH6jK0aS0123456789"


def test_scrub_hides_a_value_whole_and_what_is_left_of_it_cut_short() -> None:
    hidden = (SECRET,)
    assert scrub(f"got {SECRET!r}", hidden) == "got '[redacted]'"
    assert scrub(f"(got '{SECRET[:57]}...)", hidden) == "(got '[redacted]...)"
    assert scrub(f"key={SECRET[:20]}… [30 more]", hidden) == "key=[redacted]… [30 more]"
    assert (
        scrub(f"{SECRET[:11]} is not enough to say", hidden)
        == f"{SECRET[:11]} is not enough to say"
    )
    assert scrub("nothing here", hidden) == "nothing here"


@tool
def configure(service: str, api_key: Annotated[str, Field(max_length=64)]) -> str:
    """Configure a service."""
    return "ok"


async def test_an_invalid_arguments_echo_cut_short_is_hidden_in_the_record() -> None:
    audit = io.StringIO()
    pipeline = ToolPipeline(redact=["api_key"], audit=JsonlAudit(audit))
    result = await pipeline.call_direct(configure, {"service": "x", "api_key": SECRET})
    assert not result.ok
    assert SECRET[:12] not in (result.record.error or "") and SECRET[:12] not in audit.getvalue()


@tool
def mail(to: str, body: str, api_token: str = "") -> str:
    """Send a mail."""
    raise PermissionError(f"token {api_token} may not mail {to}")


async def inject(call: ToolInvocation, call_next: CallNext) -> Any:
    call.replace_arguments({**call.arguments, "to": "boss@corp", "api_token": SECRET})
    return await call_next(call)


async def test_arguments_a_middleware_put_in_place_are_recorded_and_hidden() -> None:
    pipeline = ToolPipeline(middleware=[inject], redact=["api_token"])
    result = await pipeline.call_direct(mail, {"to": "team@corp", "body": "hi"})
    record = result.record
    assert record.arguments == {"to": "boss@corp", "body": "hi", "api_token": "[redacted]"}
    assert SECRET[:12] not in (record.error or "")


@tool
def login(user: str, password: str) -> str:
    """Log in."""
    raise ValueError(f"wrong password {password!r} for {user}")


async def test_logcalls_lines_hide_what_redaction_hides(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("codeact.test.scrub")
    pipeline = ToolPipeline(middleware=[LogCalls(logger=logger)], redact=["password"])
    with caplog.at_level(logging.INFO, logger="codeact.test.scrub"):
        await pipeline.call_direct(login, {"user": "ann", "password": SECRET})
    assert "failed: ValueError" in caplog.text and SECRET[:12] not in caplog.text


async def test_a_failing_redactor_never_logs_the_value(caplog: pytest.LogCaptureFixture) -> None:
    def redactor(name: str, arguments: Any) -> Any:
        return int(arguments["password"])  # raises, quoting the value

    pipeline = ToolPipeline(redact=redactor)
    with caplog.at_level(logging.WARNING):
        result = await pipeline.call_direct(login, {"user": "ann", "password": SECRET})
    assert result.record.arguments == "[redaction failed]"
    assert "the redactor failed" in caplog.text and SECRET[:12] not in caplog.text
