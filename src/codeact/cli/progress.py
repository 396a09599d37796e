"""The live display of the one-time waits (sandbox build, model start) and of model turns.

On a terminal, stderr shows a spinner with the current stage and its elapsed time, and each
finished stage stays as one ``codeact: ...`` line; elsewhere (pipes, logs, CI) the stages are
plain lines and nothing moves. Nothing of it goes to stdout, which stays the program's.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from .._progress import progress_to

__all__ = ["Spinner", "show_progress", "stderr_is_terminal"]


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Spinner:
    """One line on stderr that shows what is being waited for and for how long."""

    def __init__(self) -> None:
        self.live = stderr_is_terminal()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._stage = ""
        self._started = False
        if self.live:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )

    def __enter__(self) -> Spinner:
        return self  # the live line starts with the first wait: a warm start draws nothing

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None and self._started:
            self._progress.stop()

    def _start(self) -> None:
        if self._progress is not None and not self._started:
            self._started = True
            self._progress.start()

    def stage(self, message: str) -> None:
        """A new stage starts: print it as a line, and spin on it with a fresh clock."""
        self.note(message)
        if self._progress is None:
            return
        self._start()
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._stage = message.rstrip(".").removesuffix("...")
        self._task = self._progress.add_task(self._stage)

    def note(self, message: str) -> None:
        """One permanent ``codeact: ...`` line above the spinner."""
        if self._progress is not None:
            self._progress.console.print(f"codeact: {message}", markup=False, highlight=False)
        else:
            click.echo(f"codeact: {message}", err=True)

    def spin(self, text: str) -> None:
        """Show `text` on the live line with a fresh clock, without a permanent line (where
        nothing moves, as one plain line)."""
        if self._progress is None:
            click.echo(f"codeact: {text}...", err=True)
            return
        self._start()
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._stage = text
        self._task = self._progress.add_task(text)

    def rename(self, text: str) -> None:
        """Replace what the live line says, keeping its clock."""
        if self._progress is not None and self._task is not None:
            self._stage = text
            self._progress.update(self._task, description=text)

    def clear(self) -> None:
        """Nothing is being waited for: the live line goes."""
        if self._progress is not None and self._task is not None:
            self._progress.remove_task(self._task)
            self._task = None

    def detail(self, text: str) -> None:
        """Change what the current stage says (e.g. a token count), keeping its clock."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=f"{self._stage} {text}")


@contextlib.contextmanager
def show_progress() -> Iterator[Spinner]:
    """While the block runs, the one-time stages show on the spinner (or as plain lines)."""
    with Spinner() as spinner, progress_to(spinner.stage):
        yield spinner
