"""codeact's own implementations of M3ToolEval's tools, one set per domain, typed.

They do what the original tools do, with three differences, all for typed parameters:
tools that took ``*args`` take one list (``find_minimum(values)``), ``find_max_nucleotide``
takes the counts dict that ``count_nucleotides`` returns (the original took
``k1, v1, k2, v2, ...``), and the travel domain's ``max``/``min``/``sum`` are named
``find_max``/``find_min``/``sum_values`` so that they do not replace Python's builtins inside
the sandbox. ``calculator`` uses `safe_eval` (arithmetic only), never ``eval()``.

`tools_for(domain)` makes a fresh set for one run: the web browser's position is per run.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from typing import Any, TypedDict, cast

from ...errors import UserError
from ...tools import Tool, tool
from .safe_eval import safe_eval
from .tasks import data_text

__all__ = ["tools_for"]


# -- message_decoder -------------------------------------------------------------------------
@tool
def convert_hex_to_ascii(hex_string: str) -> str:
    """Convert a hexadecimal string to ASCII text.

    Args:
        hex_string: Hex digits, two per character, e.g. "48656c6c6f".
    """
    return bytes.fromhex(str(hex_string)).decode("utf-8")


@tool
def reverse_string(string: str) -> str:
    """Reverse a string."""
    return string[::-1]


@tool
def caesar_decode(message: str, shift: int) -> str:
    """Decode a message encoded with a Caesar cipher (letters shifted forward by `shift`)."""
    return "".join(
        chr((ord(c) - shift - 65) % 26 + 65)
        if c.isupper()
        else chr((ord(c) - shift - 97) % 26 + 97)
        if c.islower()
        else c
        for c in message
    )


@tool
def string_length(string: str) -> int:
    """The length of a string."""
    return len(string)


@tool
def minimum_value(values: list[float]) -> float:
    """The smallest of the given numbers."""
    return min(values)


@tool
def maximum_value(values: list[float]) -> float:
    """The largest of the given numbers."""
    return max(values)


# -- dna_sequencer ---------------------------------------------------------------------------
@tool
def count_nucleotides(dna_sequence: str) -> dict[str, int]:
    """Count each nucleotide of a DNA sequence: {"A": 3, "G": 2, ...}."""
    return dict(Counter(dna_sequence))


@tool
def transcribe_dna_to_mrna(dna_sequence: str) -> str:
    """Transcribe a DNA sequence to mRNA (A->U, C->G, G->C, T->A)."""
    return dna_sequence.translate(str.maketrans("ACGT", "UGCA"))


@tool
def translate_mrna_to_amino_acid(mrna_sequence: str) -> str:
    """Translate an mRNA sequence to amino acids joined by "-", one per codon (X if unknown)."""
    codons = {"AUG": "Methionine", "UUU": "Phenylalanine", "UUC": "Phenylalanine"}
    return "-".join(
        codons.get(mrna_sequence[i : i + 3], "X") for i in range(0, len(mrna_sequence), 3)
    )


@tool
def find_max_nucleotide(counts: dict[str, int]) -> tuple[str, int]:
    """The nucleotide with the highest count and that count, e.g. ("A", 4).

    Args:
        counts: Nucleotide counts, as count_nucleotides() returns them.
    """
    if not counts:
        raise ValueError("counts is empty")
    best = max(counts, key=lambda k: counts[k])
    return best, counts[best]


@tool
def is_valid_dna_sequence(dna_sequence: str) -> bool:
    """Whether the sequence has only the letters A, C, G and T."""
    return set(dna_sequence).issubset(set("ACGT"))


@tool
def reverse_transcribe_mrna_to_dna(mrna_sequence: str) -> str:
    """Reverse-transcribe an mRNA sequence to DNA (U->A, C->G, A->T, G->C)."""
    return mrna_sequence.translate(str.maketrans("UCAG", "AGTC"))


# -- trade_calculator ------------------------------------------------------------------------
@tool
def convert_currency(base_price: float, conversion_rate: float) -> float:
    """Convert a price to the local currency: base_price * conversion_rate."""
    return base_price * conversion_rate


@tool
def calculate_tariff(price: float, tariff_rate: float) -> float:
    """The tariff on a price.

    Args:
        price: The (converted) price.
        tariff_rate: The tariff rate in percent, e.g. 8 for 8 %.
    """
    return price * tariff_rate / 100


@tool
def estimate_final_value(price: float, tariff: float) -> float:
    """The final trade value: the price plus the tariff."""
    return price + tariff


@tool
def calculator(expression: str) -> float:
    """Evaluate an arithmetic expression, e.g. "2 + (3 * 4)" gives 14.

    Args:
        expression: Numbers, parentheses and + - * / // % ** only.
    """
    return float(safe_eval(expression))


@tool
def find_minimum(values: list[float]) -> float:
    """The smallest of the given numbers."""
    return min(values)


@tool
def find_maximum(values: list[float]) -> float:
    """The largest of the given numbers."""
    return max(values)


# -- travel_itinerary_planning ---------------------------------------------------------------
class Flight(TypedDict):
    from_location: str
    to_location: str
    date: str  # YYYY-MM-DD
    price: float


class Hotel(TypedDict):
    location: str
    preferences: list[str]
    price_per_night: float
    rating: int


@lru_cache(maxsize=1)
def _travel() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(data_text("travel.json"))
    return data


def _location(name: str, what: str) -> str:
    name = name.strip().strip('"')
    if name not in _travel()["locations"]:
        raise ValueError(f"{what} {name!r} is not supported; use one of {_travel()['locations']}")
    return name


@tool
def find_flights(from_location: str, to_location: str, date: str) -> list[Flight]:
    """Flights from one location to another on a date.

    Args:
        from_location: Where the flight leaves, e.g. "A".
        to_location: The destination, e.g. "B".
        date: The day, YYYY-MM-DD.
    """
    origin, destination = _location(from_location, "origin"), _location(to_location, "destination")
    return [
        cast(Flight, dict(f))
        for f in _travel()["flights"]
        if f["from_location"] == origin and f["to_location"] == destination and f["date"] == date
    ]


@tool
def book_hotel(location: str, preferences: list[str] | None = None) -> list[Hotel]:
    """Hotels at a location that have all the given preferences.

    Args:
        location: The location, e.g. "A".
        preferences: Amenities every hotel must have, e.g. ["wifi", "pool"]; none for all.
    """
    place = _location(location, "location")
    wanted = preferences or []
    return [
        cast(Hotel, dict(h))
        for h in _travel()["hotels"]
        if h["location"] == place and all(p in h["preferences"] for p in wanted)
    ]


@tool
def budget_calculator(flight_price: float, hotel_price_per_night: float, num_nights: int) -> float:
    """The total budget of a trip: flight_price + hotel_price_per_night * num_nights."""
    return flight_price + hotel_price_per_night * num_nights


@tool
def find_max(values: list[float]) -> float:
    """The largest of the given numbers."""
    return max(values)


@tool
def find_min(values: list[float]) -> float:
    """The smallest of the given numbers."""
    return min(values)


@tool
def sum_values(values: list[float]) -> float:
    """The sum of the given numbers."""
    return sum(values)


_STATIC: dict[str, tuple[Tool, ...]] = {
    "message_decoder": (
        convert_hex_to_ascii,
        reverse_string,
        caesar_decode,
        string_length,
        minimum_value,
        maximum_value,
    ),
    "dna_sequencer": (
        count_nucleotides,
        transcribe_dna_to_mrna,
        translate_mrna_to_amino_acid,
        find_max_nucleotide,
        is_valid_dna_sequence,
        reverse_transcribe_mrna_to_dna,
    ),
    "trade_calculator": (
        convert_currency,
        calculate_tariff,
        estimate_final_value,
        calculator,
        find_minimum,
        find_maximum,
    ),
    "travel_itinerary_planning": (
        find_flights,
        book_hotel,
        budget_calculator,
        find_max,
        find_min,
        sum_values,
    ),
}


def tools_for(domain: str) -> list[Tool]:
    """A fresh set of the domain's tools (web browsing: on a new browser at page "/")."""
    if domain == "web_browsing":
        from .browser import browser_tools

        return [*browser_tools(), calculator]
    if domain not in _STATIC:
        raise UserError(f"unknown M3ToolEval domain {domain!r}")
    return list(_STATIC[domain])
