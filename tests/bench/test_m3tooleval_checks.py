"""M3ToolEval's pieces without a model: the task data, the answer checker, the safe evaluator
and the typed tools."""

from __future__ import annotations

import pytest

from codeact import Tool
from codeact.bench.m3tooleval import (
    DOMAINS,
    UnsafeExpression,
    check_answer,
    extract_answer,
    is_correct,
    load_tasks,
    safe_eval,
    select_tasks,
    tools_for,
)
from codeact.bench.m3tooleval.browser import WebBrowser
from codeact.errors import UserError


def test_all_82_tasks_over_five_domains_are_shipped() -> None:
    tasks = load_tasks()
    assert len(tasks) == 82
    counts = {d: sum(t.domain == d for t in tasks) for d in DOMAINS}
    assert counts == {
        "message_decoder": 8,
        "dna_sequencer": 8,
        "trade_calculator": 17,
        "travel_itinerary_planning": 15,
        "web_browsing": 34,
    }
    assert len({t.name for t in tasks}) == 82


def test_a_spread_selection_covers_every_domain_and_unknown_domains_are_refused() -> None:
    chosen = select_tasks(limit=20, spread=True)
    assert len(chosen) == 20 and {t.domain for t in chosen} == set(DOMAINS)
    assert [t.domain for t in select_tasks(domains=("dna_sequencer",))] == ["dna_sequencer"] * 8
    with pytest.raises(UserError, match="unknown M3ToolEval domain 'nope'"):
        select_tasks(domains=("nope",))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Answer: 11287.5", 11287.5),
        ("The total is computed.\nAnswer: 11287.50", 11287.5),
        ("answer: `42`", 42),
        ("Answer: [1000.5, 2000, 3000]", [1000.5, 2000.0, 3000]),
        ("Answer: [1000.5,2000,3000]", [1000.5, 2000, 3000]),
        ("Answer: fchahcufcu", "fchahcufcu"),
        ("Answer: 'fchahcufcu'", "fchahcufcu"),
        ("Answer: ('A', 4)", ("A", 4)),
        ("Answer: {'A': 2, 'T': 1}", {"T": 1, "A": 2}),
        ("Answer: True", True),
        ("Answer: James House.", "James House"),
        ("68.71", 68.71),
    ],
)
def test_the_checker_accepts_the_right_answer_in_the_forms_the_benchmark_does(
    reply: str, expected: object
) -> None:
    assert is_correct(reply, expected)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Answer: 11287.4", 11287.5),
        ("Answer: 11,287.5", 11287.5),  # the benchmark compares numbers, not formatted text
        ("The answer is 42 I think", 42),
        ("Answer: [1000, 2000]", [1000, 2000, 3000]),
        ("Answer: [2000, 1000, 3000]", [1000, 2000, 3000]),
        ("Answer: False", True),
        ("Answer: James", "James House"),
        ("Answer: 42\nAnswer: 43", 42),  # the last Answer: line counts
        ("", 0),
    ],
)
def test_the_checker_refuses_wrong_answers(reply: str, expected: object) -> None:
    assert not is_correct(reply, expected)


def test_answer_extraction_takes_the_last_answer_line_only() -> None:
    assert extract_answer("Thought: ...\nAnswer: 7\nThat is all.") == "7"
    assert extract_answer("**Answer:** 12.5") == "12.5"
    assert check_answer("12", 12.0) and not check_answer("12.01", 12)


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2 + (3 * 4)", 14),
        ("150 + 150 * 7.5 / 100", 161.25),
        ("-2 ** 2", -4),
        ("7 // 2 + 7 % 2", 4),
        ("2 ** 10", 1024),
        ("1e3 / 8", 125.0),
    ],
)
def test_the_safe_evaluator_computes_arithmetic(expression: str, value: float) -> None:
    assert safe_eval(expression) == value


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("__import__('os').system('true')", "a call"),
        ("().__class__.__bases__[0].__subclasses__()", "a call"),
        ("(1).__class__", "an attribute access"),
        ("x + 1", "the name 'x'"),
        ("open", "the name 'open'"),
        ("[1, 2][0]", "a subscript"),
        ("[1, 2]", "List"),
        ("'a' * 3", "only numbers are allowed"),
        ("True + 1", "only numbers are allowed"),
        ("lambda: 1", "a lambda"),
        ("[x for x in (1,)]", "ListComp"),
        ("1 if 1 else 2", "IfExp"),
        ("1 < 2", "Compare"),
        ("2 << 3", "LShift"),
        ("9 ** 9 ** 9", "exponents are limited"),
        ("99999 ** 999", "too large"),
        ("10.0 ** 400", "too large"),
        ("(-8) ** 0.5", "not a real number"),
        ("1 +", "not an arithmetic expression"),
        ("1" * 2000, "longer than"),
    ],
)
def test_the_safe_evaluator_refuses_everything_but_bounded_arithmetic(
    expression: str, why: str
) -> None:
    with pytest.raises(UnsafeExpression, match=why):
        safe_eval(expression)


def test_the_calculator_tool_refuses_code_and_divides_by_zero_as_an_error() -> None:
    calculator = {t.name: t for t in tools_for("trade_calculator")}["calculator"]
    assert calculator(expression="2 + (3 * 4)") == 14.0
    with pytest.raises(UnsafeExpression):
        calculator(expression="__import__('os')")
    with pytest.raises(ZeroDivisionError):
        calculator(expression="1 / 0")


def test_every_domain_has_typed_tools_whose_names_do_not_shadow_builtins() -> None:
    import builtins

    for domain in DOMAINS:
        tools = tools_for(domain)
        assert len(tools) == 6, domain
        for tool in tools:
            assert not hasattr(builtins, tool.name), tool.name
            assert "->" in tool.signature, tool.signature


def _compute(domain: str) -> dict[str, Tool]:
    return {t.name: t for t in tools_for(domain)}


def test_the_tools_reproduce_expected_outputs_of_the_original_tasks() -> None:
    expected = {t.name: t.expected for t in load_tasks()}
    d = _compute("message_decoder")
    decoded = d["caesar_decode"](
        message=d["reverse_string"](
            string=d["convert_hex_to_ascii"](hex_string="7a686b7a686d666d686b")
        ),
        shift=5,
    )
    assert decoded == expected["message_decoder/full_alien_message_decoding"]
    t = _compute("trade_calculator")
    price = t["convert_currency"](base_price=100 * 50, conversion_rate=1.5)
    tariff = t["calculate_tariff"](price=price, tariff_rate=8)
    value = t["estimate_final_value"](price=price, tariff=tariff)
    assert value == expected["trade_calculator/interstellar_trade_transaction"]
    tr = _compute("travel_itinerary_planning")
    flight = tr["find_flights"](from_location="E", to_location="A", date="2023-12-25")[0]
    hotel = tr["book_hotel"](location='"A"', preferences=["wifi", "pool"])[0]
    budget = tr["budget_calculator"](
        flight_price=flight["price"], hotel_price_per_night=hotel["price_per_night"], num_nights=5
    )
    assert budget == expected["travel_itinerary_planning/plan_trip_to_0"]
    dna = _compute("dna_sequencer")
    counts = dna["count_nucleotides"](dna_sequence="AGCTAGCCGATGCA")
    base, _ = dna["find_max_nucleotide"](counts=counts)
    mrna = dna["transcribe_dna_to_mrna"](dna_sequence=base * 3)
    assert (
        mrna
        == expected[
            "cryptobotanists_plant_dna_sequencer/find_most_common_nucleotide_and_transcribe"
        ]
    )
    with pytest.raises(ValueError, match="not supported"):
        tr["find_flights"](from_location="Z", to_location="A", date="2023-12-25")


def test_the_browser_pages_like_the_original_and_each_tool_set_has_its_own_browser() -> None:
    browser = WebBrowser()
    first = browser.view()
    assert first.startswith("----------\n[Web Page Name: /]\n[Viewing page 1 of 2]")
    assert "[Clickable '/products']" in first
    assert browser.click_url("'/nowhere'") == "[URL not found.]"
    assert browser.click_url("/products").startswith("[Opened page: /products]")
    assert browser.go_to_previous_page().startswith("[Opened page: /]")
    assert browser.go_to_previous_page() == "[No previous page.]"
    one, two = _compute("web_browsing"), _compute("web_browsing")
    one["click_url"](url="/products")
    assert "[Web Page Name: /products]" in one["view"]()
    assert "[Web Page Name: /]" in two["view"]()
