"""The order-totals workload: 8 users, 5 tools, 11 order lines (Microsoft's CodeAct example).

The data is the package's copy of ``shared/data/order_totals.json``. `TOOLS` are the five
host tools; `PROGRAM` computes the answer through them the CodeAct way (one program);
`check_answer` compares per-user totals with the expected ones.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, TypedDict, cast

from ..tools import tool

__all__ = [
    "PROGRAM",
    "TASK",
    "TOOLS",
    "check_answer",
    "compute_line_total",
    "expected_totals",
    "get_discount_rate",
    "get_orders_for_user",
    "get_tax_rate",
    "list_users",
    "workload",
]


@lru_cache(maxsize=1)
def workload() -> dict[str, Any]:
    """The workload's data (users, orders, rates, the expected answer)."""
    text = resources.files(__package__).joinpath("order_totals.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


class User(TypedDict):
    id: int
    name: str
    region: str
    tier: str


class OrderLine(TypedDict):
    product: str
    qty: int
    unit_price: float


@tool
def list_users() -> list[User]:
    """List all users with their id, name, region and tier."""
    return [cast(User, dict(u)) for u in workload()["users"]]


@tool
def get_orders_for_user(user_id: int) -> list[OrderLine]:
    """Get the order lines of one user.

    Args:
        user_id: The user's id, from list_users().
    """
    orders = workload()["orders"]
    if str(user_id) not in orders:
        raise ValueError(f"no user with id {user_id}")
    return [cast(OrderLine, dict(line)) for line in orders[str(user_id)]]


@tool
def get_discount_rate(tier: str) -> float:
    """Get the discount rate of a customer tier (e.g. 0.2 for 20 %).

    Args:
        tier: One of the tiers from list_users(): gold, silver or bronze.
    """
    rates = workload()["discount_rate_by_tier"]
    if tier not in rates:
        raise ValueError(f"unknown tier {tier!r}; tiers are {sorted(rates)}")
    return float(rates[tier])


@tool
def get_tax_rate(region: str) -> float:
    """Get the tax rate of a region (e.g. 0.21 for 21 %).

    Args:
        region: One of the regions from list_users(): EU, US or APAC.
    """
    rates = workload()["tax_rate_by_region"]
    if region not in rates:
        raise ValueError(f"unknown region {region!r}; regions are {sorted(rates)}")
    return float(rates[region])


@tool
def compute_line_total(qty: int, unit_price: float, discount_rate: float, tax_rate: float) -> float:
    """Total of one order line after discount and tax, rounded to cents.

    Args:
        qty: Quantity ordered.
        unit_price: Price of one unit.
        discount_rate: The customer's discount rate.
        tax_rate: The customer's tax rate.
    """
    return round(qty * unit_price * (1 - discount_rate) * (1 + tax_rate), 2)


TOOLS = [list_users, get_orders_for_user, get_discount_rate, get_tax_rate, compute_line_total]

TASK = (
    "Compute the grand total of every user's orders: for each order line apply the user's "
    "tier discount and regional tax with compute_line_total, sum the lines per user, and list "
    "each user's id, name and grand total, highest first, then the sum of all grand totals."
)

#: The answer computed the CodeAct way: one program, every number from a tool.
PROGRAM = """\
totals = []
for user in list_users():
    discount = get_discount_rate(tier=user["tier"])
    tax = get_tax_rate(region=user["region"])
    total = 0.0
    for line in get_orders_for_user(user_id=user["id"]):
        total += compute_line_total(
            qty=line["qty"], unit_price=line["unit_price"],
            discount_rate=discount, tax_rate=tax,
        )
    totals.append({"user_id": user["id"], "name": user["name"], "grand_total": round(total, 2)})
totals.sort(key=lambda t: t["grand_total"], reverse=True)
for t in totals:
    print(f'{t["user_id"]} {t["name"]}: {t["grand_total"]:.2f}')
print(f'sum: {sum(t["grand_total"] for t in totals):.2f}')
totals
"""


def expected_totals() -> dict[str, float]:
    """Expected grand total by user name."""
    rows = workload()["expected"]["per_user_sorted_desc"]
    return {row["name"]: float(row["grand_total"]) for row in rows}


def check_answer(text: str) -> bool:
    """True when `text` states every user's expected total (to the cent) and the sum 334.15.

    Accepts any wording: each expected figure must appear on a line naming that user, and
    the expected sum must appear somewhere.
    """
    import re

    expected = expected_totals()
    total = f"{workload()['expected']['sum_of_grand_totals']:.2f}"
    numbers_by_line = [
        (line, {f"{float(n):.2f}" for n in re.findall(r"\d+(?:\.\d+)?", line.replace(",", ""))})
        for line in text.splitlines()
    ]
    for name, value in expected.items():
        figure = f"{value:.2f}"
        if not any(name in line and figure in numbers for line, numbers in numbers_by_line):
            return False
    return any(total in numbers for _, numbers in numbers_by_line)
