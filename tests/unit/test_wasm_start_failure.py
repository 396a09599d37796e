"""wasmtime failing to set up a store (seen under load: "failed to add preopen dir") is a
failed result with one line, never an exception out of `execute()`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codeact import CodeAct

pytestmark = pytest.mark.usefixtures("wasm_ready")


async def test_a_store_that_cannot_be_set_up_is_a_failed_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wasmtime

    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise wasmtime.WasmtimeError(
            "failed to add preopen dir\n\nCaused by:\n    Too many open files"
        )

    (tmp_path / "data").mkdir()
    codeact = CodeAct(backend="wasm", file_mounts=[(tmp_path / "data", "/data")])
    monkeypatch.setattr(wasmtime.WasiConfig, "preopen_dir", refuse)
    result = await codeact.execute("print('never runs')")
    assert not result.ok and result.stdout == ""
    assert result.error is not None
    assert result.error.message == "the sandbox could not start: failed to add preopen dir"
    monkeypatch.undo()
    after = await codeact.execute("6 * 7")
    assert after.ok and after.value == 42, after.error
    codeact.close()
