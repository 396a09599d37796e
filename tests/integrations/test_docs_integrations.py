"""Every Python example in docs/integrations.md runs as written (in order, in one directory)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="needs the mcp extra")
pytest.importorskip("agent_framework", reason="needs the agent-framework extra")

DOC = Path(__file__).parents[2] / "docs" / "integrations.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)

pytestmark = pytest.mark.usefixtures("wasm_ready")


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 5


def test_every_python_example_runs(tmp_path: Path) -> None:
    outputs = []
    for number, block in enumerate(BLOCKS, 1):
        script = tmp_path / f"example_{number}.py"
        script.write_text(block)
        proc = subprocess.run(
            [sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"example {number} failed:\n{block}\n{proc.stderr}"
        outputs.append(proc.stdout)
    assert "warmest: Paris" in "".join(outputs)
    assert "9.0" in outputs[-1]
