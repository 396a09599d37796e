"""`python -m codeact` runs the CLI (as the `codeact` console script does: `codeact._entry`)."""

from __future__ import annotations

from ._entry import run

if __name__ == "__main__":
    run()
