# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Demo data for casemgr_xero: a small law practice's books, connected to two emulated Xero
organisations. Run by scripts/demo through Odoo's shell (not addon demo XML: installing the
addon itself loads no data):

    cat scripts/demo_xero.py scripts/demo_data.py | CASEMGR_DEMO_XERO_URL=http://127.0.0.1:5002 \\
        CASEMGR_DEMO_MODE=full python3 -m odoo shell -c CONF -d DB --no-http

CASEMGR_DEMO_MODE=full    companies, customers, taxes, ~40 posted invoices, connections, then
                          the Xero side (below)
CASEMGR_DEMO_MODE=reseed  the Xero side only, for a database whose xero-local was restarted
                          (xero-local keeps everything in memory): forget what Odoo knows of
                          Xero, then seed the emulator again
Xero side: an invoice that takes one of our numbers in Xero first, then the first batches
exported (two of them fail on purpose; scripts/demo_xero.py, fed to the shell first). Writes
.cache/demo-state.json (connections, tenants).
"""
# ruff: noqa: F821  (env is given by odoo shell)

import os
import random
import time
from datetime import date, timedelta

from odoo import Command

MODE = os.environ.get("CASEMGR_DEMO_MODE", "full")
XERO_URL = os.environ["CASEMGR_DEMO_XERO_URL"].rstrip("/")
STATE_FILE = os.environ.get("CASEMGR_DEMO_STATE", ".cache/demo-state.json")
TENANTS = {
    "main": os.environ.get("CASEMGR_DEMO_TENANT_1", "3f1c2a10-0000-4000-8000-00000000a001"),
    "second": os.environ.get("CASEMGR_DEMO_TENANT_2", "3f1c2a10-0000-4000-8000-00000000a002"),
}
ORG_NAMES = {"main": "Harbour & Finch LLP", "second": "Finch Family Law Pty"}
TODAY = date.today()
rng = random.Random(18)


def log(msg):
    print(f"[demo_data] {msg}", flush=True)


# --------------------------------------------------------------------------- Odoo side
def make_company_books():
    usd = env.ref("base.USD")
    main = env.ref("base.main_company")
    main.write(
        {
            "name": ORG_NAMES["main"],
            "email": "accounts@harbourfinch.example",
            "street": "12 Quay Street",
            "city": "Wellington",
        }
    )
    second = env["res.company"].search([("name", "=", ORG_NAMES["second"])], limit=1)
    if not second:
        second = env["res.company"].create(
            {"name": ORG_NAMES["second"], "currency_id": usd.id, "city": "Auckland"}
        )
        env["account.chart.template"].try_loading("generic_coa", second, install_demo=False)
    admin = env.ref("base.user_admin")
    admin.write({"company_ids": [Command.link(second.id)], "name": "Alex Harbour"})
    # customer invoice journal of the second firm: FIN/2026/00001, not a second INV/2026/00001
    journal = env["account.journal"].search(
        [("company_id", "=", second.id), ("type", "=", "sale")], limit=1
    )
    if journal.code != "FIN" and not env["account.move"].search_count(
        [("journal_id", "=", journal.id)]
    ):
        journal.code = "FIN"
    return main, second


def make_taxes(company):
    Tax = env["account.tax"].with_company(company)
    existing = Tax.search(
        [("company_id", "=", company.id), ("type_tax_use", "=", "sale"), ("amount", "=", 15)],
        limit=1,
    )
    existing.name = "GST 15%"
    taxes = {"gst": existing}
    for key, name, amount in (
        ("gst_low", "GST 10% (reduced)", 10.0),
        ("exempt", "Exempt 0%", 0.0),
        ("stamp", "Stamp duty 5%", 5.0),
    ):
        tax = Tax.search([("company_id", "=", company.id), ("name", "=", name)], limit=1)
        taxes[key] = tax or Tax.create(
            {"name": name, "amount": amount, "type_tax_use": "sale", "company_id": company.id}
        )
    return taxes


def make_products():
    Product = env["product.product"]
    specs = [
        ("time_partner", "Professional time: partner", 450.0, "service"),
        ("time_associate", "Professional time: associate", 280.0, "service"),
        ("time_paralegal", "Professional time: paralegal", 140.0, "service"),
        ("filing", "Disbursement: court filing fee", 305.0, "service"),
        ("search", "Disbursement: land title search", 28.5, "service"),
        ("courier", "Disbursement: courier", 18.0, "service"),
        ("counsel", "Disbursement: counsel's fee", 1200.0, "service"),
    ]
    products = {}
    for key, name, price, kind in specs:
        product = Product.search([("name", "=", name)], limit=1)
        products[key] = product or Product.create(
            {"name": name, "list_price": price, "type": kind, "company_id": False}
        )
    return products


CLIENTS = [
    ("Moana Shipping Ltd", "legal@moanashipping.example", "C-1001"),
    ("Te Aro Developments", "accounts@tearo.example", "C-1002"),
    ("Greenbank Orchards", "office@greenbank.example", "C-1003"),
    ("Dr. Priya Raman", "priya.raman@example.com", "C-1004"),
    ("Kauri Software Ltd", "finance@kauri.example", "C-1005"),
    ("Estate of the late J. Whitcombe", "whitcombe.estate@example.com", "C-1006"),
    ("Harlow & Sons Builders", "admin@harlowsons.example", "C-1007"),
    ("Southern Lights Trust", "trustees@southernlights.example", "C-1008"),
    ("Lindqvist Imports GmbH", "buchhaltung@lindqvist.example", "C-1009"),
    ("Ruth & Daniel Okafor", "okafor.family@example.com", "C-1010"),
]
MATTERS = [
    "Commercial lease renewal",
    "Share purchase agreement",
    "Employment dispute",
    "Property conveyancing",
    "Trust deed variation",
    "Probate and estate administration",
    "Debt recovery proceedings",
    "Shareholder agreement review",
    "Resource consent hearing",
    "Relationship property settlement",
]


def make_customers():
    Partner = env["res.partner"]
    out = []
    for name, email, ref in CLIENTS:
        partner = Partner.search([("name", "=", name)], limit=1)
        out.append(
            partner
            or Partner.create({"name": name, "email": email, "ref": ref, "is_company": True})
        )
    return out


def invoice_lines(products, taxes, matter, unmapped=False):
    time_keys = ["time_partner", "time_associate", "time_paralegal"]
    lines = [Command.create({"display_type": "line_section", "name": f"Matter: {matter}"})]
    for key in rng.sample(time_keys, rng.randint(1, 3)):
        hours = rng.choice([0.5, 1.0, 1.5, 2.25, 3.0, 4.5, 6.0, 7.5])
        product = products[key]
        lines.append(
            Command.create(
                {
                    "product_id": product.id,
                    "name": f"{product.name.split(': ')[1].title()} time: {matter.lower()} "
                    f"({hours:g} h)",
                    "quantity": hours,
                    "price_unit": product.lst_price,
                    "tax_ids": [Command.set(taxes["stamp" if unmapped else "gst"].ids)],
                }
            )
        )
    for key in rng.sample(["filing", "search", "courier", "counsel"], rng.randint(1, 2)):
        product = products[key]
        tax = taxes["exempt"] if key in ("filing", "search") else taxes["gst_low"]
        lines.append(
            Command.create(
                {
                    "product_id": product.id,
                    "name": product.name,
                    "quantity": 1 if key != "courier" else rng.randint(1, 3),
                    "price_unit": product.lst_price,
                    "tax_ids": [Command.set(tax.ids)],
                }
            )
        )
    lines.append(Command.create({"display_type": "line_note", "name": "Payment within 20 days."}))
    return lines


def make_invoices(company, products, taxes, customers, count, eur=None):
    Move = env["account.move"].with_company(company)
    vals = []
    for i in range(count):
        matter = MATTERS[i % len(MATTERS)]
        day = TODAY - timedelta(days=(count - i) * 2 + 3)
        currency = {}
        if eur and i == count - 4:
            currency = {"currency_id": eur.id}
        vals.append(
            {
                "move_type": "out_invoice",
                "partner_id": customers[(i * 3) % len(customers)].id,
                "invoice_date": day,
                "invoice_date_due": day + timedelta(days=20),
                "ref": f"{matter} / file {2600 + i}",
                "invoice_line_ids": invoice_lines(products, taxes, matter),
                **currency,
            }
        )
    moves = Move.create(vals)
    moves.action_post()
    return moves


def make_connection(company, key, taxes):
    Conn = env["xero.connection"].with_company(company)
    conn = Conn.search([("company_id", "=", company.id)], limit=1)
    vals = {
        "name": f"Xero: {ORG_NAMES[key]}",
        "company_id": company.id,
        "auth_type": "oauth",
        "client_id": "DEMO-CLIENT-ID",
        "client_secret": "demo-client-secret",
        "api_url": XERO_URL + "/api.xro/2.0",
        "connections_url": XERO_URL + "/connections",
        "token_url": XERO_URL + "/connect/token",
        "authorize_url": XERO_URL + "/identity/connect/authorize",
        "revocation_url": XERO_URL + "/connect/revocation",
        "tenant_id": TENANTS[key],
        "tenant_name": ORG_NAMES[key] + " (xero-local)",
        "state": "connected",
        "access_token": "demo-access-token",
        "refresh_token": "demo-refresh-token",
        "token_expires_at": time.time() + 1800,
        "payments_enabled": True,
    }
    conn = conn or Conn.create(vals)
    conn.write(vals)
    # Both demo companies use one Xero app (same Client ID): one webhook URL and key for both.
    if not conn.sudo().webhook_key:
        conn.action_xero_generate_webhook_key()
    Mapping = env["xero.tax.mapping"]
    for tkey, xero_type in (("gst", "OUTPUT2"), ("gst_low", "OUTPUT"), ("exempt", "EXEMPTOUTPUT")):
        if not Mapping.search([("connection_id", "=", conn.id), ("tax_id", "=", taxes[tkey].id)]):
            Mapping.create(
                {"connection_id": conn.id, "tax_id": taxes[tkey].id, "xero_tax_type": xero_type}
            )
    income = env["account.account"].search(
        [("company_ids", "in", company.id), ("account_type", "=", "income")], order="code", limit=1
    )
    AMap = env["xero.account.mapping"]
    if income and not AMap.search(
        [("connection_id", "=", conn.id), ("account_id", "=", income.id)]
    ):
        AMap.create({"connection_id": conn.id, "account_id": income.id, "xero_account_code": "200"})
    # Payments branch: Xero bank account 090 -> the company's bank journal (when merged)
    bank = env["account.journal"].search(
        [("company_id", "=", company.id), ("type", "=", "bank")], limit=1
    )
    PJ = env["xero.payment.journal"]
    if not PJ.search([("connection_id", "=", conn.id)]):
        PJ.create({"connection_id": conn.id, "xero_account": "090", "journal_id": bank.id})
    return conn


def odoo_side():
    main, second = make_company_books()
    eur = env.ref("base.EUR")
    eur.active = True
    env["res.currency.rate"].create(
        {
            "name": TODAY - timedelta(days=120),
            "rate": 0.91,
            "currency_id": eur.id,
            "company_id": main.id,
        }
    )
    products = make_products()
    customers = make_customers()
    out = {}
    for company, key, count in ((main, "main", 28), (second, "second", 12)):
        taxes = make_taxes(company)
        moves = make_invoices(
            company, products, taxes, customers, count, eur=eur if key == "main" else None
        )
        conn = make_connection(company, key, taxes)
        out[key] = (company, conn, taxes, moves)
    # failure 1: a line taxed with a tax that has no Xero tax type (fix: map Stamp duty 5%)
    company, _conn, taxes, moves = out["main"]
    bad = (
        env["account.move"]
        .with_company(company)
        .create(
            {
                "move_type": "out_invoice",
                "partner_id": customers[4].id,
                "invoice_date": TODAY - timedelta(days=30),
                "ref": "Share purchase agreement / settlement",
                "invoice_line_ids": invoice_lines(
                    products, taxes, "Share purchase agreement", unmapped=True
                ),
            }
        )
    )
    bad.action_post()
    log(f"{env['account.move'].search_count([('move_type', '=', 'out_invoice')])} invoices posted")
    env.cr.commit()


admin = env.ref("base.user_admin")
if "tour_enabled" in admin._fields:
    admin.tour_enabled = False  # no onboarding pointers over the demo
if MODE == "full":
    odoo_side()
else:
    forget_xero()
    env.cr.commit()
xero_side()
env.cr.commit()
