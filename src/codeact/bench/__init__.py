"""Benchmark harnesses: each prints a table and saves JSON (never timed assertions).

`sandbox_bench` times the sandbox itself; `order_totals` runs the order-totals task through
CodeAct and through direct tool calls on one model, and `report` turns its runs into a table,
JSON and a chart.
"""
