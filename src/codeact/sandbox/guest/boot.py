"""Entry point of a process that serves sandboxes: ``python -I [-S -B] boot.py MODULE FD``.

It loads this folder as the package ``_codeact_guest`` (so nothing of the host package is
imported into the process) and calls ``main(FD)`` of ``_codeact_guest.MODULE``: ``jail.zygote``
for the jail's zygote, ``hyperlight.worker`` for a hyperlight worker.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

PACKAGE = "_codeact_guest"


def _load_package() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        PACKAGE, os.path.join(here, "__init__.py"), submodule_search_locations=[here]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the guest package from {here}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)


if __name__ == "__main__":
    _load_package()
    importlib.import_module(f"{PACKAGE}.{sys.argv[1]}").main(int(sys.argv[2]))
