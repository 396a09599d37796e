"""The first run on a machine never fails: the README's first example, run as a script with an
empty cache (so the sandbox is built and compiled in that run, 20-70 s on 2 busy cores) and
its `Limits(wall_time=10)`, prints what the README says. No limit counts while the sandbox is
made ready. One cold build for the whole suite (module-scoped); no timing is asserted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _first_example() -> tuple[str, str]:
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S)
    assert code is not None, "README.md has no python example"
    said = re.search(r"^asyncio\.run\(main\(\)\)\s+#\s+(.+)$", code.group(1), re.M)
    assert said is not None, "the first example no longer says what it prints"
    return code.group(1), said.group(1)


@pytest.fixture(scope="module")
def cold_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], str]:
    code, said = _first_example()
    assert "Limits(wall_time=10)" in code
    work = tmp_path_factory.mktemp("first-run")
    cache = work / "cache"
    cache.mkdir()
    script = work / "example.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "CODEACT_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(cache)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=1800,  # a bound for a stuck build, not a speed check
        cwd=work,
        env=env,
    )
    return proc, said


def test_the_readme_example_prints_what_the_readme_says_on_a_cold_cache(
    cold_run: tuple[subprocess.CompletedProcess[str], str],
) -> None:
    proc, said = cold_run
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == said + "\n", proc.stderr
    assert "LimitExceeded" not in proc.stderr


def test_the_cold_run_says_what_it_waits_for(
    cold_run: tuple[subprocess.CompletedProcess[str], str],
) -> None:
    proc, _ = cold_run
    stages = [line for line in proc.stderr.splitlines() if line.startswith("codeact: ")]
    assert any("building the Wasm sandbox guest" in line for line in stages), proc.stderr
    assert any("compiling the sandbox guest" in line for line in stages), proc.stderr
