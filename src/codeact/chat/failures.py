"""What `OpenAIChat` does when a request fails: whether to try again, how long to wait first,
and the one-line `ChatError` a failure becomes at the end.

A failure is one of the ``openai`` package's errors (a status, a connection that could not be
made or that timed out) or a `BadReply` (`codeact.chat.replies`): a reply that is not a whole
chat completion, a connection dropped while the reply came, a body that could not be decoded.
"""

from __future__ import annotations

import math
import random
import re
from typing import TYPE_CHECKING

from ..errors import ChatError, ModelNotConfigured
from .replies import BadReply

if TYPE_CHECKING:
    import httpx2
    import openai

    from .endpoint import Endpoint

__all__ = [
    "RETRY_STATUSES",
    "broken_reply",
    "models_failure",
    "refuses_tool_choice",
    "retry_delay",
    "translate",
]

#: HTTP statuses worth another attempt: rate limits and server-side failures.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


#: How servers name the parameter when they refuse it: ``tool_choice``, "tool choice".
_TOOL_CHOICE = re.compile(r"tool[ _-]?choice", re.IGNORECASE)


def refuses_tool_choice(exc: openai.APIStatusError) -> bool:
    """Whether a 400/422 refuses the request's ``tool_choice`` (its message names it), rather
    than anything else in the request (a conversation too long for the model, a bad value)."""
    if exc.status_code not in (400, 422):
        return False
    return bool(_TOOL_CHOICE.search(f"{exc.message} {exc.body}"))


def broken_reply(exc: httpx2.RequestError) -> BadReply:
    """The `BadReply` (asked for again) of an HTTP client's failure while a reply came: the
    connection dropped or broke the protocol mid-body, a body that could not be decoded."""
    import httpx2

    detail = one_line(str(exc) or type(exc).__name__, 200)
    if isinstance(exc, httpx2.DecodingError):
        return BadReply("sent a reply that could not be decoded", detail)
    return BadReply("broke off its reply", detail)


def retry_delay(attempt: int, exc: Exception, *, backoff: float, max_backoff: float) -> float:
    """Seconds to wait before attempt `attempt` + 1: the server's ``Retry-After`` when it is a
    number of seconds from 0 (at most `max_backoff`), else `backoff` doubled each attempt,
    with jitter (a ``Retry-After`` of nan, inf, a negative number or a date is not one)."""
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    if header:
        try:
            seconds = float(header)
        except ValueError:
            seconds = math.nan
        if math.isfinite(seconds) and seconds >= 0:
            return min(seconds, max_backoff)
    delay = backoff * (2 ** min(attempt - 1, 64))
    return float(min(delay * (0.75 + random.random() / 2), max_backoff))


def translate(exc: Exception, *, endpoint: Endpoint, model: str | None, attempts: int) -> ChatError:
    """The one-line `ChatError` of a request's last failure, after `attempts` attempts,
    without the endpoint's secrets (`Endpoint.scrub`: a server's or the HTTP client's own
    words may hold the URL, or the key)."""
    error = _translated(exc, endpoint=endpoint, model=model, attempts=attempts)
    return ChatError(endpoint.scrub(str(error)))


def _translated(
    exc: Exception, *, endpoint: Endpoint, model: str | None, attempts: int
) -> ChatError:
    import openai

    where = f"the model endpoint {endpoint.describe()}"
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if isinstance(exc, BadReply):
        return ChatError(f"{where} {exc.what}{tries}" + (f": {exc.detail}" if exc.detail else ""))
    if isinstance(exc, openai.APITimeoutError):
        return ChatError(f"{where} did not answer in time{tries}")
    if isinstance(exc, openai.APIConnectionError):
        return ChatError(f"cannot reach {where}{tries}: {one_line(str(exc.__cause__ or exc))}")
    assert isinstance(exc, openai.APIStatusError)
    status, detail = exc.status_code, _detail(exc)
    if status in (401, 403):
        return ChatError(
            f"{where} refused the credentials (HTTP {status}): {detail}; "
            f"check {endpoint.key_setting}"
        )
    if status == 404:
        return ChatError(
            f"{where} does not serve model {model!r} (HTTP 404): {detail}; "
            "set CODEACT_MODEL (or --model / model=) to a model it serves"
        )
    if status == 429:
        return ChatError(f"{where} kept rate-limiting the requests (HTTP 429){tries}: {detail}")
    if status >= 500:
        return ChatError(f"{where} failed (HTTP {status}){tries}: {detail}")
    return ChatError(f"{where} rejected the request (HTTP {status}): {detail}")


def models_failure(error: ChatError, *, endpoint: Endpoint) -> ChatError:
    """The `ChatError` of a ``GET /models`` (asked when no model is named) that failed: a
    server without that list (404), or a reply that is not one, says so and that the model is
    then to be named; any other failure (unreachable, 5xx, timeout) is `error` as it is."""
    import openai

    cause = error.__cause__
    if isinstance(cause, openai.APIStatusError) and cause.status_code == 404:
        what = (
            f"the model endpoint {endpoint.describe()} has no list of models to take its "
            f"name from (GET /models: HTTP 404: {_detail(cause)})"
        )
    elif isinstance(cause, BadReply):
        what = str(error)
    else:
        return error
    return ModelNotConfigured(
        endpoint.scrub(
            f"no model name given, and {what}; set CODEACT_MODEL or pass --model / model="
        )
    )


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return one_line(str(message))
    return one_line(exc.message or f"HTTP {exc.status_code}")


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line, at most `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
