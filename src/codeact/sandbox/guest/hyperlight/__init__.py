"""The hyperlight worker: runs as a process of its own, with the standard library and
`hyperlight_sandbox` only (see `worker.py`)."""
