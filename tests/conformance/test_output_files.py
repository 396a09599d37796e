"""Files a program writes under /output come back in the result, within limits, and never
reach the next execution."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from codeact import CodeAct, Limits, OutputLimits


async def test_files_under_output_come_back(make_codeact: Callable[..., CodeAct]) -> None:
    code = """
import os, json
os.makedirs("/output/charts")
with open("/output/report.csv", "w") as f:
    f.write("user,total\\nada,10.5\\n")
open("/output/charts/data.json", "w").write(json.dumps({"x": [1, 2]}))
open("/output/blob.bin", "wb").write(bytes(range(256)))
"done"
"""
    result = await make_codeact().execute(code)
    assert result.ok, result.error
    assert [(f.path, f.media_type) for f in result.files] == [
        ("blob.bin", "application/octet-stream"),
        ("charts/data.json", "application/json"),
        ("report.csv", "text/csv"),
    ]
    assert result.files[0].data == bytes(range(256))
    assert result.files[2].data == b"user,total\nada,10.5\n"
    assert result.files_skipped == []
    as_dict = result.to_dict()["files"]
    assert as_dict[2]["path"] == "report.csv" and as_dict[2]["size"] == 20
    assert "data" not in as_dict[2]
    assert "[files returned] /output/blob.bin" in result.to_model_text()


async def test_the_next_execution_never_sees_them(make_codeact: Callable[..., CodeAct]) -> None:
    codeact = make_codeact()
    token = secrets.token_hex(8)
    first = await codeact.execute(
        f"open('/output/{token}.txt', 'w').write('x')\nimport os\nos.listdir('/output')"
    )
    assert first.ok and first.value == [f"{token}.txt"]
    for _ in range(3):  # pooled and fresh instances alike
        later = await codeact.execute("import os\nos.listdir('/output')")
        assert later.ok and later.value == [] and later.files == []


async def test_a_failed_program_still_returns_its_files(
    make_codeact: Callable[..., CodeAct],
) -> None:
    result = await make_codeact().execute("open('/output/partial.txt','w').write('so far')\n1/0")
    assert not result.ok
    assert [(f.path, f.data) for f in result.files] == [("partial.txt", b"so far")]


async def test_files_past_the_limits_are_skipped_with_a_reason(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(
        output_limits=OutputLimits(max_files=2, max_file_bytes=100, max_total_bytes=150)
    )
    # 330 bytes in all: under the disk watch's "far past the limits" (2 * 150 + 100 bytes),
    # which would otherwise stop the program whenever it happened to look while it ran.
    code = """
for name, size in [("a", 80), ("b", 150), ("c", 80), ("d", 10), ("e", 10)]:
    open(f"/output/{name}", "wb").write(b"x" * size)
"""
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert [f.path for f in result.files] == ["a", "d"]
    assert result.files_skipped == [
        "b: 150 bytes, over OutputLimits.max_file_bytes=100",
        "c: would pass OutputLimits.max_total_bytes=150",
        "e: over OutputLimits.max_files=2",
    ]
    assert "[files not returned] b: 150 bytes" in result.to_model_text()


async def test_a_symlink_in_output_is_not_followed_on_the_host(
    make_codeact: Callable[..., CodeAct], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-" + secrets.token_hex(8))
    # The program can create a link whose target is any string; the host must not follow it.
    code = f"""
import os
for target in [{str(secret)!r}, "../" * 12 + {str(secret)[1:]!r}]:
    try:
        os.symlink(target, "/output/link" + str(len(target)))
    except OSError as e:
        print("refused", e)
"""
    result = await make_codeact().execute(code)
    assert all(secret.read_bytes() not in f.data for f in result.files)
    assert all(not f.path.startswith("link") for f in result.files)
    # At least the relative link exists on the host (WASI lets a program make it), so this
    # really tested that the host does not follow it.
    assert any(note.endswith(": a symlink, not returned") for note in result.files_skipped)


async def test_writing_far_past_the_limits_stops_the_program(
    make_codeact: Callable[..., CodeAct],
) -> None:
    codeact = make_codeact(
        output_limits=OutputLimits(max_files=2, max_file_bytes=10_000, max_total_bytes=10_000),
        limits=Limits(wall_time=20),
    )
    code = """
with open("/output/flood.bin", "wb") as f:
    while True:
        f.write(b"x" * 4096)
"""
    result = await codeact.execute(code)
    assert not result.ok and result.error is not None
    assert result.error.limit == "output_files", result.error
    assert "kept writing under /output" in result.error.message
    assert result.files == [] and result.files_skipped[0].startswith("flood.bin: ")


async def test_a_removed_file_kept_open_still_counts(
    make_codeact: Callable[..., CodeAct],
) -> None:
    """A file removed from /output but kept open holds disk that no name under /output
    shows: it counts against the limits too (on wasm a program filled 1 GiB of the host's
    disk this way, and would have gone on to its wall time)."""
    codeact = make_codeact(
        output_limits=OutputLimits(max_files=1, max_file_bytes=2**20, max_total_bytes=2**20),
        limits=Limits(wall_time=20),
    )
    code = """
import os
kept = []
for i in range(64):  # 1 MiB each: within any one file's limit, 64 MiB in all
    f = open(f"/output/hidden{i}.bin", "wb")
    os.unlink(f"/output/hidden{i}.bin")
    f.write(b"x" * (1 << 20))
    f.flush()
    kept.append(f)
written = 64 << 20
import time
time.sleep(2)  # several periods of the disk watch
print("wrote", written >> 20, "MiB")
"""
    result = await codeact.execute(code)
    assert result.error is not None and result.error.limit == "output_files", (
        result.stdout,
        result.error,
    )
    assert "wrote" not in result.stdout


async def test_the_usual_ways_of_making_sure_output_exists_work(
    make_codeact: Callable[..., CodeAct],
) -> None:
    # Programs often make sure the folder exists before writing into it. On wasm, where "/"
    # is not a directory, os.makedirs failed trying to make "/" for /output itself.
    code = """
import os, pathlib
os.makedirs("/output", exist_ok=True)
os.makedirs("/output/", exist_ok=True)
pathlib.Path("/output/charts").mkdir(parents=True, exist_ok=True)
pathlib.Path("/output").mkdir(parents=True, exist_ok=True)
os.makedirs("/output/charts/2024", exist_ok=True)
os.makedirs(pathlib.Path("/output/charts/2024"), exist_ok=True)
open("/output/charts/2024/a.txt", "w").write("x")
try:
    os.makedirs("/output")
except FileExistsError as e:
    print("exists", e.filename)
os.path.isdir("/output")
"""
    codeact = make_codeact()
    result = await codeact.execute(code)
    assert result.ok, result.error
    assert result.value is True
    assert result.stdout == "exists /output\n"
    assert [f.path for f in result.files] == ["charts/2024/a.txt"]
    for attempt in ("open('/x', 'w')", "os.mkdir('/d')", "os.makedirs('/d/e', exist_ok=True)"):
        result = await codeact.execute("import os\n" + attempt)
        assert result.error is not None, attempt
        assert result.error.type in ("PermissionError", "OSError", "FileNotFoundError"), (
            attempt,
            result.error,
        )
