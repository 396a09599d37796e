"""Reference workloads shipped with the package (data, tools and reference programs)."""
