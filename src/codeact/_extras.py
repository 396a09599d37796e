"""Optional extras: what someone without one is told to install, said one way everywhere.

codeact is installed from a checkout, not from a package index, so ``pip install
'codeact[mcp]'`` finds nothing; ``pip install -e '.[mcp]'`` run in the checkout works. Every
hint comes from `install_hint`, and every import of an extra's packages goes through
`needs_extra`, which turns a missing (or broken) package into one `MissingExtra` line::

    with needs_extra("langchain", "codeact.integrations.langchain"):
        from langchain_core.tools import BaseTool
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import MissingExtra

__all__ = ["install_hint", "missing_extra", "needs_extra"]


def install_hint(extra: str) -> str:
    """The command that installs `extra` (a name of ``[project.optional-dependencies]``)."""
    return f"pip install -e '.[{extra}]' in the codeact checkout"


def missing_extra(what: str, extra: str, exc: ImportError | None = None) -> MissingExtra:
    """``WHAT needs the EXTRA extra (why): pip install ...``, on one line; `exc`, the failed
    import, says why (which module is missing, or what an installed one lacks). An `exc` that
    is already a `MissingExtra` gives the reason it was raised for, not its whole message."""
    while isinstance(exc, MissingExtra) and isinstance(exc.__context__, ImportError):
        exc = exc.__context__
    why = ""
    if exc is not None:
        why = " (" + " ".join(str(exc).split()) + ")"
    return MissingExtra(
        f"{what} needs the {extra} extra{why}: {install_hint(extra)}",
        name=exc.name if exc is not None else None,
    )


@contextmanager
def needs_extra(extra: str, what: str) -> Iterator[None]:
    """Imports in this block need `extra`: an `ImportError` out of them becomes
    `missing_extra(what, extra, exc)`, raised without the import's own traceback (its
    message keeps the reason), so what is printed is the one line that says what to do."""
    try:
        yield
    except MissingExtra:
        raise  # already says what to install (an extra needing another part of codeact)
    except ImportError as exc:
        raise missing_extra(what, extra, exc) from None
