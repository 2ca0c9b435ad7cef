from decimal import Decimal

from casemgr_xero_core.drift import OdooDocument, compare


def _doc(**kw):
    base = dict(
        key=1,
        number="INV/1",
        xero_id="X1",
        total=Decimal("115.00"),
        amount_due=Decimal("115.00"),
        paid=False,
    )
    base.update(kw)
    return OdooDocument(**base)


def test_equal_documents_have_no_drift():
    xero = {"X1": {"Total": 115.0, "AmountDue": 115.0, "Status": "AUTHORISED"}}
    assert compare([_doc()], xero) == []


def test_each_kind_of_drift_is_named():
    docs = [
        _doc(),
        _doc(key=2, number="INV/2", xero_id="X2"),
        _doc(key=3, number="INV/3", xero_id="X3"),
        _doc(key=4, number="INV/4", xero_id="X4", amount_due=Decimal(0), paid=True),
    ]
    xero = {
        "X1": {"Total": 120.0, "AmountDue": 115.0, "Status": "AUTHORISED"},
        "X3": {"Total": 115.0, "AmountDue": 115.0, "Status": "VOIDED"},
        "X4": {"Total": 115.0, "AmountDue": 115.0, "Status": "AUTHORISED"},
    }
    diffs = compare(docs, xero)
    assert [(d.key, d.field) for d in diffs] == [
        (1, "total"),
        (2, "existence"),
        (3, "status"),
        (4, "amount_due"),
        (4, "status"),
    ]
    assert diffs[0].message == "Invoice INV/1: total differs — Odoo 115.00, Xero 120.00."
    assert "Xero does not have it" in diffs[1].message
