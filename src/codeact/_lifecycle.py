"""`Closeable`: one definition of "usable with `with` and `async with`" for codeact's objects."""

from __future__ import annotations

from types import TracebackType

from typing_extensions import Self

__all__ = ["Closeable"]


class Closeable:
    """Gives `with` and `async with` to a class that defines `close()` (and, if closing has
    async work to do, `aclose()`). Entering returns the object; leaving closes it."""

    def close(self) -> None:
        """Release what the object holds; override it."""

    async def aclose(self) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
