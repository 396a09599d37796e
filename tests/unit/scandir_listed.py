"""What ``os.scandir`` gives, made from entries already listed: a test swaps an entry on
disk after it was listed, as a writer racing the host's walk would."""

from __future__ import annotations

import os

__all__ = ["Listed"]


class Listed:
    """``os.scandir``'s iterator and context manager over `entries` listed before."""

    def __init__(self, entries: list[os.DirEntry[str]]) -> None:
        self._entries = entries

    def __iter__(self) -> object:
        return iter(self._entries)

    def __enter__(self) -> Listed:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def close(self) -> None:
        pass
