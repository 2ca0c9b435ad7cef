"""Bench ratios and checks: the bound from Xero's published limits, the correctness checks
(Xero, read directly, against Odoo) and the faults ``--inject-fault`` makes after a run.
Imported by ``_harness`` (``h.export_bound``, ``h.xero_checks``, ...)."""

import json
import math

API = "/api.xro/2.0"


# ---------------------------------------------------------------------------- the bound
# Xero's published limits: 50 invoices in one PUT /Invoices (its batch size), per organisation
# 60 calls in any sliding minute, 5000 a day (rolling 24 h) and 5 calls in flight. A bench may
# lower the minute and day budgets (its own settings); the bound below takes them as given.
INVOICES_PER_CALL = 50

BOUND_FORMULA = (
    "bound T = max(floor((P - 1) / L) x 60 s, floor((P - 1) / D) x 86400 s), P = ceil(N / 50): "
    "N invoices need at least P PUT /Invoices; with L calls in any sliding minute and D a day, "
    "call k starts at least floor((k - 1) / L) minutes and floor((k - 1) / D) days after the "
    "first; answers and the 5-concurrent limit are taken to cost 0 s. "
    "ratio = T / (last answer - first call) of the run, never above 1"
)


def export_bound(invoices, per_minute, per_day=None, day_seconds=86400):
    """(P, T): the fewest PUT /Invoices for ``invoices`` (P = ceil(N / 50)) and the least time
    from the first Xero call to the last answer that ``per_minute`` calls in any sliding minute
    and ``per_day`` calls a day allow them (see BOUND_FORMULA): the P-th call cannot start
    before floor((P - 1) / L) minutes (and floor((P - 1) / D) days) after the first, and an
    answer may take 0 s. Contact calls and any other call are left out (Xero creates a contact
    named in an invoice), so this is a bound any exporter must respect. ``day_seconds``: the
    length of the rolling day (Xero's 86400; a bench may shorten it, and its proxy's with it)."""
    calls = math.ceil(invoices / INVOICES_PER_CALL)
    if calls <= 1:
        return calls, 0.0
    seconds = (calls - 1) // per_minute * 60
    if per_day:
        seconds = max(seconds, (calls - 1) // per_day * day_seconds)
    return calls, float(seconds)


def bound_ratio(
    checks, name, invoices, first_call, last_answer, per_minute, per_day=None, day_seconds=86400
):
    """(ratio or None, text): achieved over the whole run, from ``first_call`` to
    ``last_answer`` (seconds on one clock), against export_bound(). A ratio above 1 means the
    bound is not one (a bench bug): the check ``<name> ratio <= 1`` fails."""
    calls, bound = export_bound(invoices, per_minute, per_day, day_seconds)
    achieved = max(0.0, last_answer - first_call)
    rate = invoices / (achieved / 60) if achieved else float("inf")
    text = (
        f"{invoices} invoices in {achieved:.1f}s from first call to last answer "
        f"({rate:.0f}/min); bound P = ceil({invoices}/50) = {calls} PUTs, T = floor(({calls}-1)"
        f"/{per_minute}) x 60s"
        + (
            f" (day budget {per_day}"
            + (f" per {day_seconds:.0f}s" if day_seconds != 86400 else "")
            + f": {'binds' if (calls - 1) // per_day else 'no effect'})"
            if per_day
            else ""
        )
        + f" = {bound:.0f}s"
    )
    if bound <= 0:
        checks(f"{name} ratio <= 1", True, "no ratio: the bound is 0 s (P calls fit a minute)")
        return None, text + ": no ratio (the P calls fit one minute's budget)"
    ratio = bound / achieved if achieved else float("inf")
    checks(f"{name} ratio <= 1", ratio <= 1, f"{ratio:.3f}")
    return ratio, text + f" ({invoices / (bound / 60):.0f}/min): ratio T/achieved = {ratio:.2f}"


# ---------------------------------------------------------------------------- checks
class Checks:
    """Correctness checks of a bench: ``checks(name, ok, detail)`` records one; ``report()``
    prints each as ``check NAME: ok|FAILED (detail)`` and returns the exit status (1 if any
    failed)."""

    def __init__(self):
        self.results = []

    def __call__(self, name, ok, detail=""):
        self.results.append((name, bool(ok), detail))
        return bool(ok)

    def report(self):
        for name, ok, detail in self.results:
            print(f"  check {name}: {'ok' if ok else 'FAILED'}{f' ({detail})' if detail else ''}")
        failed = [name for name, ok, _d in self.results if not ok]
        print(
            f"checks: {len(self.results) - len(failed)} ok, {len(failed)} failed"
            + (f" ({', '.join(failed)})" if failed else "")
        )
        return 1 if failed else 0


def xl_request(xl, method, path, tenant, body=None, query=""):
    """A call straight to the emulator (no proxy, no limits) as ``tenant``."""
    import urllib.request

    req = urllib.request.Request(
        f"{xl.url}{API}{path}{query}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={
            "Authorization": "Bearer bench",
            "Xero-Tenant-Id": tenant,
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read() or b"{}")


def xero_invoices(xl, tenant):
    """Every invoice the emulator holds for ``tenant`` (all pages)."""
    out = []
    for page in range(1, 10000):
        items = xl_request(xl, "GET", "/Invoices", tenant, query=f"?page={page}").get("Invoices")
        out += items or []
        if not items or len(items) < 100:
            break
    return out


def odoo_invoices(registry, move_ids):
    """[(number, xero_invoice_id, xero_state, payment_state)] of ``move_ids``."""
    with registry.cursor() as cr:
        cr.execute(
            "SELECT name, xero_invoice_id, xero_state, payment_state FROM account_move "
            "WHERE id = ANY(%s)",
            [list(move_ids)],
        )
        return cr.fetchall()


def _short(items, n=3):
    items = sorted(items)
    return ", ".join(map(str, items[:n])) + (f", … {len(items) - n} more" if len(items) > n else "")


def _xero_paid(inv):
    paid, due = float(inv.get("AmountPaid") or 0), float(inv.get("AmountDue") or 0)
    return "paid" if paid > 0 and due <= 0.005 else "partial" if paid > 0 else "not_paid"


def _odoo_paid(state):
    return {"paid": "paid", "in_payment": "paid", "partial": "partial"}.get(state, "not_paid")


def xero_checks(checks, xero_invs, odoo_rows, label=""):
    """The export's correctness, Xero against Odoo (one organisation): every invoice the bench
    exported is in Xero once (duplicates, missing), Xero holds nothing else (extra), Odoo's
    xero_invoice_id is Xero's InvoiceID for that number (binding), each is ``sent`` in Odoo,
    and paid in Odoo exactly when paid in Xero (reconciled). Deleted / voided invoices in Xero
    do not count as held. Returns {number: Xero invoice} of what Xero holds."""
    pre = f"{label} " if label else ""
    live = [i for i in xero_invs if i.get("Status") not in ("DELETED", "VOIDED")]
    by_number = {}
    for inv in live:
        by_number.setdefault(inv.get("InvoiceNumber"), []).append(inv)
    ours = {r[0]: r for r in odoo_rows}
    dups = [n for n, lst in by_number.items() if len(lst) > 1]
    missing = set(ours) - set(by_number)
    extra = set(by_number) - set(ours)
    wrong = [
        n
        for n, r in ours.items()
        if n in by_number and r[1] not in {i["InvoiceID"] for i in by_number[n]}
    ]
    not_sent = [n for n, r in ours.items() if r[2] != "sent"]
    unreconciled = [
        n
        for n, r in ours.items()
        if n in by_number and _xero_paid(by_number[n][0]) != _odoo_paid(r[3])
    ]
    n = len(ours)
    checks(
        f"{pre}duplicates",
        not dups,
        f"{len(dups)} of {n} numbers more than once in Xero"
        + (f": {_short(dups)}" if dups else ""),
    )
    checks(
        f"{pre}missing",
        not missing,
        f"{len(missing)} of {n} not in Xero" + (f": {_short(missing)}" if missing else ""),
    )
    checks(
        f"{pre}extra",
        not extra,
        f"Xero holds {len(extra)} invoices the bench did not export"
        + (f": {_short(extra)}" if extra else ""),
    )
    checks(
        f"{pre}binding",
        not wrong,
        f"{len(wrong)} of {n} Odoo xero_invoice_id not Xero's "
        "InvoiceID for that number" + (f": {_short(wrong)}" if wrong else ""),
    )
    checks(
        f"{pre}sent",
        not not_sent,
        f"{len(not_sent)} of {n} not 'sent' in Odoo"
        + (f": {_short(not_sent)}" if not_sent else ""),
    )
    paid = sum(1 for lst in by_number.values() if _xero_paid(lst[0]) != "not_paid")
    checks(
        f"{pre}reconciled",
        not unreconciled,
        f"{len(unreconciled)} of {n} paid in one of Xero"
        f" / Odoo only; {paid} paid in Xero"
        + (f": {_short(unreconciled)}" if unreconciled else ""),
    )
    return {k: v[0] for k, v in by_number.items()}


# ---------------------------------------------------------------------------- faults
# A bench's --inject-fault breaks one thing after its run, before its checks: the run must then
# exit 1 (the checks are shown to catch it).
FAULTS = (
    "wrong-binding",
    "delete-invoice",
    "extra-invoice",
    "duplicate-invoice",
    "unreconciled-payment",
)


def add_fault_option(ap, extra=()):
    ap.add_argument(
        "--inject-fault",
        choices=FAULTS + tuple(extra),
        help="after the run, break one thing the checks must catch (the bench must exit 1)",
    )


def inject_fault(kind, registry, xl, tenant, move_ids):
    """Break one thing (``kind``, one of FAULTS) of an export to ``tenant`` of ``move_ids``;
    returns what was done (printed by the bench). Done on the emulator straight and in the
    database, after the run."""
    with registry.cursor() as cr:
        cr.execute(
            "SELECT id, name, xero_invoice_id, amount_total FROM account_move "
            "WHERE id = ANY(%s) AND xero_invoice_id IS NOT NULL "
            "AND payment_state = 'not_paid' ORDER BY id LIMIT 2",
            [list(move_ids)],
        )
        (mid, name, xid, total), (_mid2, name2, xid2, _t2) = cr.fetchall()
        if kind == "wrong-binding":
            cr.execute("UPDATE account_move SET xero_invoice_id = %s WHERE id = %s", [xid2, mid])
            return f"{name} bound in Odoo to {name2}'s Xero InvoiceID {xid2}"
    inv = xl_request(xl, "GET", f"/Invoices/{xid}", tenant)["Invoices"][0]
    if kind == "delete-invoice":
        status = "VOIDED" if inv.get("Status") == "AUTHORISED" else "DELETED"
        xl_request(xl, "POST", f"/Invoices/{xid}", tenant, {"Invoices": [{"Status": status}]})
        return f"{name} ({xid}) {status} in Xero"
    if kind in ("extra-invoice", "duplicate-invoice"):
        copy = {
            k: inv[k]
            for k in ("Type", "Status", "LineAmountTypes", "LineItems", "CurrencyCode", "Date")
            if k in inv
        }
        copy["Contact"] = {"ContactID": inv["Contact"]["ContactID"]}
        copy["InvoiceNumber"] = name if kind == "duplicate-invoice" else f"BENCH-EXTRA-{name}"
        made = xl_request(xl, "PUT", "/Invoices", tenant, {"Invoices": [copy]})["Invoices"][0]
        return f"invoice {copy['InvoiceNumber']} ({made['InvoiceID']}) put in Xero by hand"
    if kind == "unreconciled-payment":
        pay = xl_request(
            xl,
            "POST",
            "/Payments",
            tenant,
            {
                "Payments": [
                    {
                        "Invoice": {"InvoiceID": xid},
                        "Account": {"Code": "090"},
                        "Date": "2019-01-05",
                        "Amount": float(total),
                    }
                ]
            },
        )["Payments"][0]
        return f"{name} paid in Xero ({pay['PaymentID']}), Odoo never told"
    raise ValueError(kind)
