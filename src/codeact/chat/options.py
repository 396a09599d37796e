"""Checks of the chat clients' numeric options, at construction, one `ConfigurationError` line
each (as `codeact.Limits` checks its fields): a NaN timeout or ``max_retries=1.5`` fails where
it is given, not as a server that "did not answer in time" after four attempts.

A bool is not a number here; NaN and the infinities are outside every range; a huge int
(``10**400``) is compared as given, never converted (``float()`` would overflow).
"""

from __future__ import annotations

from .._checks import check_number

__all__ = ["DAY_S", "check_openai_chat", "check_sampling"]

#: The longest a request, a retry delay or a model's start may take: one day, in seconds.
DAY_S = 86_400.0


def check_sampling(owner: str, temperature: object, max_tokens: object, *, optional: bool) -> None:
    """`temperature` (0 to 2, as OpenAI's API takes it) and `max_tokens` (a whole number of
    tokens from 1) of the client `owner`."""
    check_number(f"{owner}(temperature=)", temperature, low=0, high=2, optional=optional)
    check_number(
        f"{owner}(max_tokens=)",
        max_tokens,
        low=1,
        high=100_000_000,
        integer=True,
        optional=optional,
        unit="tokens",
    )


def check_openai_chat(
    *,
    temperature: object,
    max_tokens: object,
    max_retries: object,
    backoff: object,
    max_backoff: object,
    timeout: object,
    max_reply_bytes: object,
) -> None:
    """Each numeric option of `OpenAIChat`, in range (one `ConfigurationError` line)."""
    check_sampling("OpenAIChat", temperature, max_tokens, optional=True)
    check_number("OpenAIChat(max_retries=)", max_retries, low=0, high=100, integer=True)
    for name, value in (("backoff", backoff), ("max_backoff", max_backoff)):
        check_number(f"OpenAIChat({name}=)", value, low=0, high=DAY_S, unit="seconds")
    check_number("OpenAIChat(timeout=)", timeout, low=0.001, high=DAY_S, unit="seconds")
    check_number(
        "OpenAIChat(max_reply_bytes=)",
        max_reply_bytes,
        low=1,
        high=1 << 40,
        integer=True,
        unit="bytes",
    )
