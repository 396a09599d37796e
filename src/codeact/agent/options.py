"""`Agent`'s options checked when the agent is made, each a `ConfigurationError` line that
says what the option takes: a wrong one found mid-run (``progress=True`` called after the
first model reply) costs a paid request and ends in a bare ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigurationError
from ..runtime.events import is_async_callable

__all__ = ["check_options"]

#: What each callable option is given, for the message that says what it takes.
_CALLABLES = {
    "progress": "a function called with one line of text (e.g. print)",
    "on_program_event": "a function called with a call id and an event",
}


def check_options(
    *,
    instructions: object,
    max_turns: object,
    output_retries: object,
    flags: Mapping[str, object],
    callbacks: Mapping[str, object],
) -> None:
    """Raise `ConfigurationError` for the first option that is not what it takes: `flags`
    (True or False), `callbacks` (a plain callable or None: they are called, not awaited),
    the counts (whole numbers, not bools)."""
    if not isinstance(instructions, str):
        raise ConfigurationError(
            f"instructions must be a str (the system prompt), got {type(instructions).__name__}"
        )
    _check_count("max_turns", max_turns, least=1)
    _check_count("output_retries", output_retries, least=0)
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ConfigurationError(f"{name} must be True or False, got {value!r}")
    for name, callback in callbacks.items():
        if callback is not None and not callable(callback):
            raise ConfigurationError(
                f"{name} must be {_CALLABLES.get(name, 'a callable')}, or None; got {callback!r}"
            )
        if is_async_callable(callback):
            raise ConfigurationError(
                f"{name} must be a plain function, not an async one (it is called, not awaited)"
            )


def _check_count(name: str, value: object, *, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        what = "a positive whole number" if least == 1 else f"a whole number >= {least}"
        raise ConfigurationError(f"{name} must be {what}, got {value!r}")
