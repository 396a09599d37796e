"""Every Python example in docs/approvals.md runs, and prints what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "approvals.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def expected_output(block: str) -> list[str]:
    """What the comments say is printed: ``print(x)  # shown`` and top-level ``# shown`` lines."""
    expected = []
    for line in block.splitlines():
        if line.strip().startswith("print(") and "  # " in line:
            comment = line.split("  # ", 1)[1]
            expected.append(comment.split(";")[0])  # "True; result.write_audit(...)" -> "True"
        elif line.startswith("# "):
            expected.append(line[2:])
    return expected


@pytest.mark.usefixtures("wasm_ready")
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    block = BLOCKS[index]
    exec(compile(block, f"{DOC.name}[{index}]", "exec"), {"__name__": "__docs__"})
    printed = capsys.readouterr().out
    for line in expected_output(block):
        if line.endswith("..."):
            assert line[:-3] in printed
        else:
            assert line in printed, (line, printed)
