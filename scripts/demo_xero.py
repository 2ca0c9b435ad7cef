# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The Xero side of the demo data: what Odoo forgets when xero-local was restarted, then the
emulator seeded (an invoice number taken in Xero first, the first batches exported). Not run
alone: scripts/demo feeds it to Odoo's shell just before scripts/demo_data.py, which calls
``xero_side`` and ``forget_xero`` with its settings (``TENANTS``, ``XERO_URL``, ``STATE_FILE``,
``log``).
"""
# ruff: noqa: F821  (env is given by odoo shell; the settings by scripts/demo_data.py)

import json
import os
import time
from datetime import timedelta


# --------------------------------------------------------------------------- Xero side
def forget_xero():
    """xero-local was restarted empty: nothing Odoo knows of Xero is true any more."""
    env.cr.execute(
        """UPDATE account_move SET xero_state = 'not_sent', xero_invoice_id = NULL,
               xero_connection_id = NULL, xero_sent_at = NULL, xero_error = NULL,
               xero_attempt_key = NULL, xero_outcome_unknown = FALSE
         WHERE xero_state != 'not_sent' OR xero_invoice_id IS NOT NULL"""
    )
    env["xero.contact"].sudo().search([]).unlink()
    env["xero.failure"].sudo().search([]).unlink()
    env.invalidate_all()


def xero_side():
    conns = env["xero.connection"].search([("tenant_id", "in", list(TENANTS.values()))])
    by_tenant = {c.tenant_id: c for c in conns}
    main_conn, second_conn = by_tenant[TENANTS["main"]], by_tenant[TENANTS["second"]]
    for conn in conns:
        conn.sudo().write({"token_expires_at": time.time() + 1800, "state": "connected"})
    Move = env["account.move"]
    main_moves = Move.search(
        [
            ("company_id", "=", main_conn.company_id.id),
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
        ],
        order="invoice_date, id",
    )
    second_moves = Move.search(
        [
            ("company_id", "=", second_conn.company_id.id),
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
        ],
        order="invoice_date, id",
    )
    stamp = Move.search(
        [("invoice_line_ids.tax_ids.name", "=", "Stamp duty 5%"), ("state", "=", "posted")]
    )
    # failure 2: someone typed one of our invoice numbers into Xero by hand first
    taken = (main_moves - stamp)[14]
    client = main_conn._xero_client()
    contact = client.create_contacts([{"Name": "Walk-in client (entered in Xero)"}])[0]
    client.put_invoices(
        [
            {
                "Type": "ACCREC",
                "InvoiceNumber": taken.name,
                "Contact": {"ContactID": contact.xero_id},
                "Date": str(taken.invoice_date - timedelta(days=40)),
                "DueDate": str(taken.invoice_date - timedelta(days=20)),
                "Status": "AUTHORISED",
                "LineAmountTypes": "NoTax",
                "LineItems": [
                    {
                        "Description": "Consultation (entered in Xero)",
                        "Quantity": 1,
                        "UnitAmount": 150,
                        "LineAmount": 150,
                        "AccountCode": "200",
                    }
                ],
            }
        ],
        "demo-number-taken",
    )
    log(f"Xero already holds an invoice numbered {taken.name} (for another contact)")
    # most are already in Xero: 22 + the one with the unmapped tax, 6 of the second firm's
    first = main_moves[:22] | stamp | second_moves[:6]
    env.cr.commit()
    first.action_xero_send()
    env.cr.commit()
    env["xero.export"]._cron_xero_export()
    env.cr.commit()
    env.invalidate_all()
    counts = {}
    for move in Move.search([("xero_state", "!=", "not_sent")]):
        counts[move.xero_state] = counts.get(move.xero_state, 0) + 1
    log(f"exported at load time: {counts}")
    state = {
        "db": env.cr.dbname,
        "xero_url": XERO_URL,
        "connections": [
            {
                "id": c.id,
                "company": c.company_id.name,
                "tenant_id": c.tenant_id,
                "webhook_key": c.sudo().webhook_key,
                "webhook_url": c.webhook_url,
                "api_url": c.api_url,
            }
            for c in conns.sorted("id")
        ],
    }
    os.makedirs(os.path.dirname(STATE_FILE) or ".", exist_ok=True)
    with open(STATE_FILE, "w") as fh:
        json.dump(state, fh, indent=2)
    log(f"wrote {STATE_FILE}")
