"""Benchmark harnesses: each prints a table and saves JSON (never timed assertions)."""
