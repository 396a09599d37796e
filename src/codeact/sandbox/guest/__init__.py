"""Code that runs outside the host process: in a sandbox, or in a process that serves one.

Nothing here imports the host package or anything outside the standard library (a test checks),
because each part is loaded where that package is absent:

* ``runtime/``: the program runner and its network module, the same on every backend
  (the wasm guest's CPython 3.14 in WASI, the jail's and hyperlight's interpreters);
* ``wasm/``: the component that componentize-py builds around the runner (``wasm/build.py``);
* ``jail/``: the jail's zygote and the children it forks (loaded as a package of its own);
* ``hyperlight/``: the worker process that owns one Hyperlight micro-VM.
"""

#: The runner's modules (the files of ``runtime/``), each before the ones that import it, the
#: runner itself last: the order in which a backend that loads them one by one must load them.
RUNNER_MODULES = (
    "codeact_host",
    "codeact_streams",
    "codeact_doc",
    "codeact_tools",
    "codeact_errors",
    "codeact_refusals",
    "codeact_net",
    "codeact_lazy",
    "codeact_state",
    "codeact_defs",
    "codeact_save",
    "codeact_compile",
    "codeact_value",
    "codeact_runner",
)
