"""Child process that serves one GGUF model with xllamacpp on 127.0.0.1 (used by `LocalModel`).

    python -m codeact.chat._llama_server MODEL.gguf [--ctx N] [--threads N]

Prints one JSON line on stdout, ``{"address": "http://127.0.0.1:PORT"}`` once the server
listens (or ``{"error": "..."}``), then serves until its stdin closes: when the parent exits,
however it exits, the pipe closes and the server goes with it. llama.cpp installs its own
SIGINT/SIGTERM handlers and writes its log to stderr; both stay in this process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codeact.chat._llama_server")
    parser.add_argument("model")
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--verbosity", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = args.model
        params.n_ctx = args.ctx
        params.n_parallel = 1  # one slot: every turn reuses the cached prompt prefix
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # the OS picks a free port
        params.verbosity = args.verbosity
        # The model's Jinja chat template renders tools and tool calls; without it every
        # request with tools fails. xllamacpp's default is on today: say so, not rely on it.
        params.use_jinja = True
        if args.threads > 0:
            params.cpuparams.n_threads = args.threads
            params.cpuparams_batch.n_threads = args.threads
        server = xllamacpp.Server(params)
    except Exception as exc:  # reported to the parent, which raises a ChatError
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    print(json.dumps({"address": server.listening_address}), flush=True)
    # llama.cpp writes its own log here only when it fails to start; say what runs.
    _log(
        f"serving {args.model} at {server.listening_address} (xllamacpp "
        f"{getattr(xllamacpp, '__version__', '?')}, context {args.ctx} tokens, "
        f"threads {args.threads or 'default'})"
    )
    try:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or is gone
    except KeyboardInterrupt:
        pass
    _log("stopping: the parent closed its pipe")
    del server
    return 0


def _log(line: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
