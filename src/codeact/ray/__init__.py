"""Run programs across a Ray cluster: `CodeActPool` (extra: ``pip install 'codeact[ray]'``).

>>> from codeact.ray import CodeActPool                      # doctest: +SKIP
>>> pool = CodeActPool(tools=TOOLS, num_actors=8)           # doctest: +SKIP
>>> results = await pool.map(programs)                      # doctest: +SKIP

See docs/ray.md: a two-node run, how tools travel, what state lives where.
"""

from __future__ import annotations

try:
    import ray as _ray  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ..errors import ConfigurationError

    raise ConfigurationError("codeact.ray needs Ray: pip install 'codeact[ray]'") from exc

from .pool import CodeActPool
from .tools import ToolSpec
from .worker import ActorInfo

__all__ = ["ActorInfo", "CodeActPool", "ToolSpec"]
