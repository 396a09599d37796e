"""Code that runs in the jail's zygote and its children, not on the host.

The zygote loads the `guest` folder as a package of its own (`guest/boot.py`; standard library
only, relative imports only), so nothing of the host package is imported into a sandbox. The
host imports a few pure parts of it too (the Landlock ABI probe, the seccomp filter builder)
for checks and tests.
"""
