"""The demo's live view of each model turn: what the model is doing, for how long, and (where
the client streams) how many tokens it has written and how fast."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..chat.messages import (
    ChatClient,
    ChatResponse,
    Message,
    ResponseFormat,
    ToolChoice,
    ToolDefinition,
    complete_with,
)
from .progress import Spinner

__all__ = ["ShowTurns"]


class ShowTurns:
    """A `ChatClient` that shows each turn of the client it wraps on `spinner`."""

    def __init__(self, client: ChatClient, spinner: Spinner) -> None:
        self.client = client
        self.spinner = spinner
        self.turns = 0
        self._pieces = 0
        self._first: float | None = None

    @property
    def model(self) -> str:
        return self.client.model

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolDefinition] = (),
        response_format: ResponseFormat | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> ChatResponse:
        self.turns += 1
        self._pieces, self._first = 0, None
        streams = hasattr(self.client, "on_delta")
        what = "reads the conversation" if streams else "is writing its reply"
        self.spinner.spin(f"turn {self.turns}: the model {what}")
        if streams:
            self.client.on_delta = self._piece  # type: ignore[attr-defined]
        try:
            return await complete_with(
                self.client,
                messages,
                tools=tools,
                response_format=response_format,
                tool_choice=tool_choice,
            )
        finally:
            if streams:
                self.client.on_delta = None  # type: ignore[attr-defined]
            self.spinner.clear()

    def _piece(self, text: str) -> None:
        now = time.perf_counter()
        if self._first is None:
            self._first = now
        self._pieces += 1
        rate = (self._pieces - 1) / (now - self._first) if now > self._first else 0.0
        self.spinner.rename(
            f"turn {self.turns}: the model is writing: {self._pieces} tokens"
            + (f", {rate:.1f} tokens/s" if rate else "")
        )

    async def aclose(self) -> None:
        await self.client.aclose()
