"""The wasm backend keeps room in the host's descriptor table: it raises the process's soft
RLIMIT_NOFILE (several runs of 250 files each made the host fail with EMFILE under 1024), and
a run checked while the table is full is stopped rather than counted as holding none."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

CONCURRENT = """
import asyncio, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
from codeact import CodeAct, Limits

HOLD = '''
import os, time
open('/output/x', 'w').close()
held = [os.open('/output/x', os.O_RDONLY) for _ in range(250)]
time.sleep(1.5)
len(held)
'''

async def main():
    codeact = CodeAct(backend="wasm", limits=Limits(wall_time=30))
    await codeact.prepare()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print("soft", soft, "wanted", min(hard, 1 << 16))
    results = await asyncio.gather(*(codeact.execute(HOLD) for _ in range(5)))
    print("values", [r.value for r in results], [r.error for r in results if r.error])
    open("/etc/hostname").close()
    print("host open ok")

asyncio.run(main())
"""


def test_runs_below_the_bound_together_do_not_exhaust_the_host(wasm_ready: None) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CONCURRENT], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    soft, wanted = lines[0].split()[1], lines[0].split()[3]
    assert soft == wanted, lines
    assert lines[1] == "values [250, 250, 250, 250, 250] []", lines
    assert lines[2] == "host open ok"


FULL_TABLE = """
import os, resource, tempfile
from codeact.sandbox.wasm.descriptors import Descriptors
folder = tempfile.mkdtemp()
watch = Descriptors([folder], folder)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
held = []
try:
    while True:
        held.append(os.open(folder, os.O_RDONLY))
except OSError:
    pass
print(watch.filling(), watch.count())
"""


def test_a_full_table_is_seen_as_full_not_as_empty() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", FULL_TABLE], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "True (None, 0)", proc.stdout
