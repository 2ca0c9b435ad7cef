# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""`scripts/demo credit INV/2026/00012 200`, `scripts/demo void INV/…`,
`scripts/demo edit INV/… [AMOUNT]`.

Plays Xero's part for a running demo, as `demo pay` does: changes the exported invoice in the
emulated Xero organisation (a credit note made there and allocated to it; the invoice voided;
its first line lowered by AMOUNT, default 10 %), posts the signed webhook events Xero would
send (INVOICE, and CREDITNOTE for a credit), then waits until the "Changed in Xero" card shows
on the dashboard.

Stdlib only (plus casemgr_xero_testing.webhook and demo_pay's helpers).
"""

import argparse
import sys
import time
from datetime import date

from casemgr_xero_testing.webhook import build_event, build_payload, signed_post
from demo_pay import Odoo, die, xero


def _invoice(odoo, number):
    companies = odoo("res.users", "read", [odoo.uid], ["company_ids"])[0]["company_ids"]
    found = odoo(
        "account.move",
        "search_read",
        [("name", "=", number), ("move_type", "=", "out_invoice")],
        fields=["name", "xero_state", "xero_invoice_id", "xero_connection_id", "amount_residual"],
        context={"allowed_company_ids": companies},
    )
    if not found:
        die(f"no customer invoice {number} in Odoo")
    move = found[0]
    if not move["xero_invoice_id"] or not move["xero_connection_id"]:
        die(f"{number} is not in Xero yet (Xero state: {move['xero_state']}): send it first")
    conn = odoo(
        "xero.connection",
        "read",
        [move["xero_connection_id"][0]],
        ["tenant_id", "webhook_key", "webhook_url", "api_url", "access_token"],
    )[0]
    if not conn["webhook_key"]:
        die(f"connection {move['xero_connection_id'][1]} has no webhook key")
    return move, conn


def credit(conn, move, amount):
    inv = xero(conn, "GET", f"/Invoices/{move['xero_invoice_id']}")["Invoices"][0]
    line = next(li for li in inv.get("LineItems") or () if float(li.get("LineAmount") or 0))
    body = {
        "CreditNotes": [
            {
                "Type": "ACCRECCREDIT",
                "Status": "AUTHORISED",
                "Contact": {"ContactID": (inv.get("Contact") or {}).get("ContactID")},
                "Date": date.today().isoformat(),
                "LineAmountTypes": inv.get("LineAmountTypes") or "Exclusive",
                "LineItems": [
                    {
                        "Description": f"Credit on {move['name']}",
                        "Quantity": 1,
                        "UnitAmount": amount,
                        "LineAmount": amount,
                        "AccountCode": line.get("AccountCode"),
                        "TaxType": "NONE",
                    }
                ],
                "Total": amount,
            }
        ]
    }
    note = xero(conn, "PUT", "/CreditNotes", body)["CreditNotes"][0]
    alloc = {
        "Allocations": [
            {
                "Invoice": {"InvoiceID": move["xero_invoice_id"]},
                "Amount": amount,
                "Date": date.today().isoformat(),
            }
        ]
    }
    xero(conn, "PUT", f"/CreditNotes/{note['CreditNoteID']}/Allocations", alloc)
    print(
        f"Xero: credit note {note['CreditNoteNumber']} of {amount:.2f} allocated to {move['name']}"
    )
    return [("CREDITNOTE", note["CreditNoteID"])]


def void(conn, move):
    xero(conn, "POST", f"/Invoices/{move['xero_invoice_id']}", {"Invoices": [{"Status": "VOIDED"}]})
    print(f"Xero: {move['name']} voided")
    return []


def edit(conn, move, amount):
    inv = xero(conn, "GET", f"/Invoices/{move['xero_invoice_id']}")["Invoices"][0]
    items = inv.get("LineItems") or []
    line = next((li for li in items if float(li.get("LineAmount") or 0) > 0), None)
    if line is None:
        die(f"{move['name']} has no line to edit in Xero")
    old = float(line["LineAmount"])
    cut = round(amount if amount is not None else old * 0.1, 2)
    if not 0 < cut < old:
        die(f"cannot lower a line of {old:.2f} by {cut:.2f}")
    qty = float(line.get("Quantity") or 1) or 1
    line["LineAmount"] = round(old - cut, 2)
    line["UnitAmount"] = round((old - cut) / qty, 4)
    if line.get("TaxAmount"):  # Xero computes the line's tax again
        line["TaxAmount"] = round(float(line["TaxAmount"]) * (old - cut) / old, 2)
    xero(conn, "POST", f"/Invoices/{move['xero_invoice_id']}", {"Invoices": [{"LineItems": items}]})
    print(f"Xero: {move['name']}: line '{line.get('Description')}' lowered by {cut:.2f}")
    return []


def main():
    parser = argparse.ArgumentParser(prog="scripts/demo credit|void|edit")
    parser.add_argument("action", choices=["credit", "void", "edit"])
    parser.add_argument("invoice", help="Odoo invoice number, e.g. INV/2026/00012")
    parser.add_argument("amount", nargs="?", type=float)
    parser.add_argument("--odoo", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="casemgr_xero_demo")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--wait", type=float, default=20.0, help="seconds to watch Odoo")
    args = parser.parse_args()
    odoo = Odoo(args.odoo, args.db, args.login, args.password)
    move, conn = _invoice(odoo, args.invoice)
    if args.action == "credit":
        if not args.amount or args.amount <= 0:
            die("give the amount to credit, e.g. scripts/demo credit INV/2026/00012 200")
        events = credit(conn, move, round(args.amount, 2))
    elif args.action == "void":
        events = void(conn, move)
    else:
        events = edit(conn, move, args.amount)
    events.append(("INVOICE", move["xero_invoice_id"]))
    payload = build_payload(
        [
            build_event(rid, tenant_id=conn["tenant_id"], category=cat, event_type="UPDATE")
            for cat, rid in events
        ]
    )
    url = args.odoo + "/xero/webhook/" + conn["webhook_url"].split("/xero/webhook/", 1)[1]
    status, reply = signed_post(url, payload, conn["webhook_key"])
    print(f"webhook: POST {url} -> {status}")
    if status >= 300:
        print(f"  {reply[:300]!r}")
        return 1
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        time.sleep(1)
        changes = odoo("xero.change", "search", [("move_id", "=", move["id"])])
        cards = changes and odoo(
            "xero.failure",
            "search_read",
            [("res_model", "=", "xero.change"), ("res_id", "in", changes)],
            fields=["message", "state"],
        )
        if cards:
            print(f"Odoo: card '{cards[0]['message'].splitlines()[0]}' ({cards[0]['state']})")
            print("  Invoicing > Xero > Dashboard: Make draft prepares the entry")
            return 0
    print(
        f"Odoo: no card for {args.invoice} after {args.wait:g}s; see Invoicing > Xero > Dashboard"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
