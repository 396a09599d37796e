"""Entry point of the jail's zygote process: ``python -I -S -B boot.py CONTROL_FD``.

It loads this folder as the package ``_codeact_jail`` (so nothing of the host package is
imported into the sandbox) and hands over to `zygote.main`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys


def _load_package() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "_codeact_jail", os.path.join(here, "__init__.py"), submodule_search_locations=[here]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the jail's package from {here}")
    package = importlib.util.module_from_spec(spec)
    sys.modules["_codeact_jail"] = package
    spec.loader.exec_module(package)


if __name__ == "__main__":
    _load_package()
    importlib.import_module("_codeact_jail.zygote").main(int(sys.argv[1]))
