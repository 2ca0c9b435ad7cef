"""Shared bench plumbing: throwaway database from a template, xero-local + FaultProxy, data, cron.

Environment (all optional): BENCH_ODOO_CONF (default /tmp/bench-odoo.conf), BENCH_TEMPLATE
(a database with `account`, default lead_base; casemgr_xero is installed into the copy if the
template lacks it). PG connection parameters come from the Odoo config file.
"""

import configparser
import json
import math
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "xero_core"))
sys.path.insert(0, str(REPO / "xero_testing"))  # the fault proxy, xero-local (test tools)

from casemgr_xero_testing.proxy import FaultProxy  # noqa: E402
from casemgr_xero_testing.xero_local import XeroLocal  # noqa: E402

API = "/api.xro/2.0"
CONF = os.environ.get("BENCH_ODOO_CONF", "/tmp/bench-odoo.conf")
TEMPLATE = os.environ.get("BENCH_TEMPLATE", "lead_base")


def _pg_env():
    cp = configparser.ConfigParser()
    cp.read(CONF)
    o = cp["options"]
    env = dict(os.environ)
    env.update(
        PGHOST=o.get("db_host", "127.0.0.1"),
        PGPORT=o.get("db_port", "5432"),
        PGUSER=o.get("db_user", "odoo"),
    )
    return env


@contextmanager
def throwaway_db(name, template=None):
    """A copy of ``template`` (default: the bench template), dropped afterwards."""
    db = f"bench_{name}_{os.getpid()}"
    env = _pg_env()
    subprocess.run(["createdb", "-T", template or TEMPLATE, db], check=True, env=env)
    try:
        state = subprocess.run(
            ["psql", "-tAc", "SELECT state FROM ir_module_module WHERE name='casemgr_xero'", db],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if state != "installed":
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "odoo",
                    "-c",
                    CONF,
                    "-d",
                    db,
                    "-i",
                    "casemgr_xero",
                    "--stop-after-init",
                    "--no-http",
                    "--max-cron-threads=0",
                    "--addons-path",
                    f"{REPO},{_odoo_addons()}",
                ],
                check=True,
                env=dict(env, PYTHONPATH=str(REPO / "xero_core")),
                stdout=subprocess.DEVNULL,
            )
        yield db
    finally:
        subprocess.run(["dropdb", "--if-exists", "--force", db], env=env, check=False)


def _odoo_addons():
    import odoo.addons

    return ",".join(os.path.realpath(p) for p in odoo.addons.__path__)


def odoo_registry(db):
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(
        ["-c", CONF, "--log-level", "warn", "--addons-path", f"{REPO},{_odoo_addons()}"]
    )
    return Registry(db)


def env_of(cr):
    from odoo import SUPERUSER_ID, api

    return api.Environment(cr, SUPERUSER_ID, {})


@contextmanager
def peer():
    with XeroLocal() as xl:
        proxy = FaultProxy(xl.url, tax_maths=True)
        try:
            yield xl, proxy
        finally:
            proxy.stop()


def setup_connection(registry, xl, proxy):
    with registry.cursor() as cr:
        env = env_of(cr)
        company = env.ref("base.main_company")
        base = proxy.url
        conn = env["xero.connection"].create(
            {
                "name": "Bench",
                "company_id": company.id,
                "client_id": "C",
                "client_secret": "S",
                "api_url": base + API,
                "connections_url": base + "/connections",
                "token_url": base + "/connect/token",
                "authorize_url": base + "/authorize",
                "revocation_url": base + "/connect/revocation",
            }
        )
        conn.sudo().write(
            {
                "tenant_id": xl.tenant_id(),
                "tenant_name": "Bench",
                "state": "connected",
                "access_token": "A",
                "refresh_token": "R",
                "token_expires_at": time.time() + 86400,
            }
        )
        return conn.id


def make_partners(registry, count, prefix="Bench Client"):
    with registry.cursor() as cr:
        return (
            env_of(cr)["res.partner"]
            .create(
                [{"name": f"{prefix} {i:04d}", "email": f"c{i}@example.com"} for i in range(count)]
            )
            .ids
        )


def make_invoices(registry, partner_ids, count, queue=True, chunk=500, company_id=None):
    """Posted (and queued) one-line invoices; partner i % len(partner_ids); in ``company_id``'s
    sale journal when given (else the main company's)."""
    from odoo import Command

    ids = []
    for start in range(0, count, chunk):
        with registry.cursor() as cr:
            env = env_of(cr)
            domain = [("type", "=", "sale")]
            company = {}
            if company_id:
                env = env(context={"allowed_company_ids": [company_id]})
                domain.append(("company_id", "=", company_id))
                company = {"company_id": company_id}
            journal = env["account.journal"].search(domain, limit=1)
            moves = env["account.move"].create(
                [
                    {
                        **company,
                        "move_type": "out_invoice",
                        "journal_id": journal.id,
                        "partner_id": partner_ids[i % len(partner_ids)],
                        "invoice_date": "2019-01-01",
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": f"Fees {i}",
                                    "quantity": 1,
                                    "price_unit": 100.0 + i % 97,
                                    "tax_ids": [Command.clear()],
                                }
                            )
                        ],
                    }
                    for i in range(start, min(count, start + chunk))
                ]
            )
            moves.action_post()
            if queue:
                moves._xero_queue()
            ids += moves.ids
    return ids


def pending(registry):
    with registry.cursor() as cr:
        cr.execute("SELECT count(*) FROM account_move WHERE xero_state IN ('queued', 'sending')")
        return cr.fetchone()[0]


def run_cron_until_done(registry, max_wait=900, stats=None):
    """Play Odoo's cron scheduler for the export cron: run it now, and again at the time of the
    next ir.cron.trigger the product itself scheduled (re-trigger, or not_before after a 429).
    The bench never chooses a wait of its own. Returns the number of cron runs.

    ``stats`` (a dict), when given, gets ``queries``: the SQL queries of the export cron's own
    calls only (odoo.sql_db.sql_counter around them), not this loop's bookkeeping."""
    import odoo.sql_db

    runs = 0
    deadline = time.monotonic() + max_wait
    while pending(registry) and time.monotonic() < deadline:
        with registry.cursor() as cr:
            env = env_of(cr)
            cron = env.ref("casemgr_xero.ir_cron_xero_export")
            cr.execute(
                "DELETE FROM ir_cron_trigger "
                "WHERE cron_id = %s AND call_at <= now() at time zone 'utc'",
                [cron.id],
            )
            q0 = odoo.sql_db.sql_counter
            env["account.move"]._cron_xero_export()
            if stats is not None:
                stats["queries"] = stats.get("queries", 0) + odoo.sql_db.sql_counter - q0
            runs += 1
        with registry.cursor() as cr:
            cr.execute(
                "SELECT min(call_at) - (now() at time zone 'utc') FROM ir_cron_trigger "
                "WHERE cron_id = (SELECT res_id FROM ir_model_data WHERE module='casemgr_xero' "
                "AND name='ir_cron_xero_export')"
            )
            wait = cr.fetchone()[0]
        if wait is not None and wait.total_seconds() > 0 and pending(registry):
            time.sleep(wait.total_seconds())
    return runs


def calls_by_endpoint(proxy):
    out = {}
    for r in proxy.requests:
        key = f"{r.method} {r.path.replace(API, '')}"
        out[key] = out.get(key, 0) + 1
    return out


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
