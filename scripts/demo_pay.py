# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""`scripts/demo pay INV/2026/00012 [amount]` / `scripts/demo unpay INV/2026/00012`.

Plays Xero's part for a running demo: makes (or deletes) the payment in the emulated Xero
organisation of the invoice, then posts the signed webhook Xero would send (INVOICE UPDATE),
and watches the invoice's payment state in Odoo for a few seconds.

Reads the invoice, its connection, tenant and webhook key from Odoo over XML-RPC as admin.
Stdlib only (plus casemgr_xero_testing.webhook, itself stdlib only).
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import xmlrpc.client
from datetime import date

from casemgr_xero_testing.webhook import build_event, build_payload, signed_post


def die(msg):
    print(f"ERROR: {msg}", file=sys.stderr)
    sys.exit(2)


class Odoo:
    def __init__(self, url, db, login, password):
        self.url, self.db, self.password = url, db, password
        common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common", allow_none=True)
        try:
            self.uid = common.authenticate(db, login, password, {})
        except OSError as exc:
            die(f"Odoo does not answer on {url} ({exc}): is scripts/demo running?")
        if not self.uid:
            die(f"cannot log in to {url} database {db} as {login}")
        self.models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def __call__(self, model, method, *args, **kw):
        return self.models.execute_kw(
            self.db, self.uid, self.password, model, method, list(args), kw
        )


def xero(conn, method, path, body=None):
    url = conn["api_url"].rstrip("/") + path
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {conn['access_token'] or 'demo'}",
            "Xero-Tenant-Id": conn["tenant_id"],
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        die(f"Xero ({url}) answered {exc.code}: {exc.read()[:300]!r}")
    except OSError as exc:
        die(f"the emulated Xero at {url} does not answer ({exc}): is scripts/demo running?")


def main():
    parser = argparse.ArgumentParser(prog="scripts/demo pay|unpay")
    parser.add_argument("action", choices=["pay", "unpay"])
    parser.add_argument("invoice", help="Odoo invoice number, e.g. INV/2026/00012")
    parser.add_argument("amount", nargs="?", type=float, help="default: what is still due")
    parser.add_argument("--odoo", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="casemgr_xero_demo")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--account", default="090", help="Xero bank account code")
    parser.add_argument("--wait", type=float, default=20.0, help="seconds to watch Odoo")
    args = parser.parse_args()

    odoo = Odoo(args.odoo, args.db, args.login, args.password)
    found = odoo(
        "account.move",
        "search_read",
        [("name", "=", args.invoice), ("move_type", "in", ("out_invoice", "out_refund"))],
        fields=[
            "name",
            "xero_state",
            "xero_invoice_id",
            "xero_connection_id",
            "amount_residual",
            "amount_total",
            "payment_state",
            "company_id",
        ],
        context={
            "active_test": False,
            "allowed_company_ids": odoo("res.users", "read", [odoo.uid], ["company_ids"])[0][
                "company_ids"
            ],
        },
    )
    if not found:
        die(f"no customer invoice {args.invoice} in Odoo")
    move = found[0]
    if not move["xero_invoice_id"] or not move["xero_connection_id"]:
        die(
            f"{args.invoice} is not in Xero yet (Xero state: {move['xero_state']}): "
            "send it to Xero first (list: select it, Action > Send to Xero)"
        )
    conn = odoo(
        "xero.connection",
        "read",
        [move["xero_connection_id"][0]],
        ["tenant_id", "webhook_key", "webhook_url", "api_url", "access_token", "payments_enabled"],
    )[0]
    if not conn["webhook_key"]:
        die(f"connection {move['xero_connection_id'][1]} has no webhook key")
    invoice_id = move["xero_invoice_id"]

    if args.action == "pay":
        amount = args.amount if args.amount is not None else move["amount_residual"]
        if amount <= 0:
            die(f"{args.invoice} has nothing left to pay in Odoo; give an amount")
        body = {
            "Invoice": {"InvoiceID": invoice_id},
            "Account": {"Code": args.account},
            "Date": date.today().isoformat(),
            "Amount": round(amount, 2),
        }
        answer = xero(conn, "POST", "/Payments", body)
        payment = (answer.get("Payments") or [answer])[0]
        print(f"Xero: payment {payment.get('PaymentID')} of {amount:.2f} on {args.invoice}")
    else:
        payments = xero(conn, "GET", "/Payments").get("Payments") or []
        mine = [
            p
            for p in payments
            if (p.get("Invoice") or {}).get("InvoiceID") == invoice_id
            and p.get("Status") != "DELETED"
        ]
        if not mine:
            die(f"Xero has no live payment on {args.invoice}")
        for p in mine:
            xero(conn, "POST", f"/Payments/{p['PaymentID']}", {"Status": "DELETED"})
            print(f"Xero: deleted payment {p['PaymentID']} ({p.get('Amount')}) on {args.invoice}")

    event = build_event(
        invoice_id, tenant_id=conn["tenant_id"], category="INVOICE", event_type="UPDATE"
    )
    # One URL per Xero app (the same on every connection of the app), routed by tenant.
    url = args.odoo + "/xero/webhook/" + conn["webhook_url"].split("/xero/webhook/", 1)[1]
    status, reply = signed_post(url, build_payload([event]), conn["webhook_key"])
    print(f"webhook: POST {url} -> {status}")
    if status == 404:
        print("  the webhook endpoint is not there (payments feature not merged in this build?)")
        return 1
    if status >= 300:
        print(f"  {reply[:300]!r}")
        return 1
    if not conn["payments_enabled"]:
        print("  payments are switched off on this connection: Odoo will not mirror it")
    before = move["payment_state"], move["amount_residual"]
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        time.sleep(1)
        now = odoo("account.move", "read", [move["id"]], ["payment_state", "amount_residual"])[0]
        if (now["payment_state"], now["amount_residual"]) != before:
            print(
                f"Odoo: {args.invoice} is now '{now['payment_state']}', "
                f"{now['amount_residual']:.2f} still due"
            )
            return 0
    print(
        f"Odoo: {args.invoice} unchanged after {args.wait:g}s "
        f"('{before[0]}', {before[1]:.2f} due); see Invoicing > Xero > Dashboard"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
