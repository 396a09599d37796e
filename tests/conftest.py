"""Fixtures shared by the whole suite.

The Wasm guest is built and compiled once per machine (user cache) and loaded once per test
run by the session fixture `wasm_ready`; no test builds or compiles it by itself.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def wasm_ready() -> None:
    """Load (building the first time) the shared wasm backend once for the session."""
    from codeact.runtime.codeact import _shared_backend

    _shared_backend("wasm").prepare()
