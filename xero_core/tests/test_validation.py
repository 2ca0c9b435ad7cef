"""Typed validation problems: one rule, one place, one message."""

import datetime as dt
from decimal import Decimal

from casemgr_xero_core.mapping import ContactData, InvoiceData, LineData
from casemgr_xero_core.validation import PROBLEM_PARAMS, Problem, invoice_problems


def _invoice(*lines, **kw):
    vals = {
        "key": 1,
        "number": "INV/1",
        "date": dt.date(2024, 1, 1),
        "due_date": dt.date(2024, 1, 31),
        "currency": "NZD",
        "lines": list(lines),
        "contact": ContactData(key=1, name="Client"),
        "line_amount_types": "Exclusive",
        "total": Decimal("10"),
    }
    vals.update(kw)
    return InvoiceData(**vals)


def _line(desc="Fees", **kw):
    vals = {
        "quantity": 1,
        "unit_amount": Decimal(10),
        "line_amount": Decimal(10),
        "account_code": "200",
        "tax_type": "OUTPUT",
    }
    vals.update(kw)
    return LineData(desc, **vals)


def test_a_good_invoice_has_no_problem():
    assert invoice_problems(_invoice(_line())) == []


def test_problems_are_typed_with_code_field_and_place():
    (problem,) = invoice_problems(_invoice(_line(account_code=None)))
    assert problem == Problem(
        "account_code_missing", "account", "INV/1", line=1, description="Fees", params={}
    )


def test_tracking_limit_is_one_rule_with_one_message():
    tracking = [("Area", "North"), ("Dept", "Law"), ("Team", "A")]
    problems = invoice_problems(_invoice(_line(tracking=tracking)))
    assert [p.code for p in problems] == ["too_many_tracking"]
    assert problems[0].field == "analytic_distribution"
    assert problems[0].params == {"max": 2}


def test_unmapped_tax_names_the_tax_once():
    problems = invoice_problems(_invoice(_line(tax_type=None, tax_count=1, tax_label="GST 15%")))
    assert [(p.code, p.params) for p in problems] == [("tax_unmapped", {"tax": "GST 15%"})]


def test_several_taxes_on_a_line_is_one_problem():
    problems = invoice_problems(_invoice(_line(tax_type=None, tax_count=2)))
    assert [p.code for p in problems] == ["several_taxes"]


def test_invoice_level_rules():
    inv = _invoice(_line(), mixed_tax_inclusion=True, total=Decimal(0))
    assert [p.code for p in invoice_problems(inv)] == ["mixed_tax_inclusion", "total_zero"]


def test_each_problem_carries_the_params_its_code_declares():
    """The addon words each code with the params PROBLEM_PARAMS names (its test_i18n renders
    every text with them): a problem must carry exactly those."""
    inv = _invoice(
        _line(quantity=Decimal("1.12345"), discount_rate=120, line_amount=Decimal(3)),
        _line(quantity="x", tax_type=None, tax_count=1, tax_label="GST"),
        currency="euro",
        due_date=None,
        status="PAID",
        line_amount_types="Gross",
    )
    problems = invoice_problems(inv)
    assert len({p.code for p in problems}) >= 8
    for problem in problems:
        assert tuple(problem.params) == PROBLEM_PARAMS[problem.code], problem
