"""An `async def` passed as `on_output` or `on_event` is refused before the program runs, with
one line saying what to use instead. Was: never called, only "RuntimeWarning: coroutine ...
was never awaited", the output silently lost."""

from __future__ import annotations

from typing import Any

import pytest

from codeact import CodeAct
from codeact.errors import ConfigurationError

pytestmark = pytest.mark.usefixtures("wasm_ready")


async def _async_listener(event: Any) -> None:
    pass


class _AsyncCallable:
    async def __call__(self, event: Any) -> None:
        pass


@pytest.mark.parametrize("listener", [_async_listener, _AsyncCallable()], ids=["def", "object"])
@pytest.mark.parametrize("which", ["on_output", "on_event"])
async def test_an_async_callback_is_refused_up_front(listener: Any, which: str) -> None:
    with pytest.raises(ConfigurationError, match=r"plain function.*stream\(\)") as caught:
        await CodeAct().execute("print('x')", **{which: listener})
    assert which in str(caught.value) and "\n" not in str(caught.value)


def test_an_async_callback_is_refused_by_execute_sync() -> None:
    with pytest.raises(ConfigurationError):
        CodeAct().execute_sync("print('x')", on_output=_async_listener)


async def test_a_plain_callback_still_gets_the_output() -> None:
    got: list[str] = []
    result = await CodeAct().execute("print('x')", on_output=lambda c: got.append(c.text))
    assert result.ok and "".join(got) == "x\n"
