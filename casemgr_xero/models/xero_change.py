# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A change made in Xero to an exported invoice: a credit note allocated to it, the invoice
voided, its lines edited (``casemgr_xero_core.changes`` finds them).

The payments run finds them where it already reads the invoice (its INVOICE events, the poll,
and CREDITNOTE events pointing at the invoices a credit note is allocated to). Each change is
one row, unique per (connection, Xero source, kind, fingerprint) in PostgreSQL: seen twice
(webhook and poll, a redelivery) it is recorded once and filed once as a "Changed in Xero" card.
The card's *Make draft* (``xero_change_draft.py``) makes one draft in Odoo; nothing is posted
by itself."""

import json
import logging

from casemgr_xero_core import changes as core
from casemgr_xero_core.mapping import invoice_payload

from odoo import api, fields, models
from odoo.tools import formatLang

from .. import compat

_logger = logging.getLogger(__name__)

KIND_LABELS = [
    (core.CREDIT, "Credited in Xero"),
    (core.VOID, "Voided in Xero"),
    (core.EDIT, "Edited in Xero"),
]


@compat.sql_constraints(
    (
        "change_uniq",
        "UNIQUE (connection_id, xero_source_id, kind, fingerprint)",
        "This change in Xero is already recorded.",
    ),
)
class XeroChange(models.Model):
    _name = "xero.change"
    _description = "Change made in Xero"
    _order = "id desc"

    name = fields.Char(compute="_compute_name")
    connection_id = fields.Many2one(
        "xero.connection", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    move_id = fields.Many2one(
        "account.move",
        string="Invoice",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    currency_id = fields.Many2one(related="move_id.currency_id")
    kind = fields.Selection(KIND_LABELS, required=True, readonly=True)
    xero_source_id = fields.Char(string="Xero source ID", required=True, readonly=True)
    xero_source_number = fields.Char(string="Xero source", readonly=True)
    fingerprint = fields.Char(required=True, readonly=True)
    amount = fields.Monetary(readonly=True)
    line_data = fields.Json(readonly=True)
    line_amount_types = fields.Char(readonly=True)
    xero_date = fields.Char(string="Xero date", readonly=True)
    state = fields.Selection(
        [("open", "Open"), ("drafted", "Draft made"), ("ignored", "Ignored")],
        default="open",
        required=True,
        readonly=True,
    )
    draft_move_id = fields.Many2one("account.move", string="Draft", readonly=True, copy=False)

    @api.depends("kind", "move_id", "xero_source_number")
    def _compute_name(self):
        labels = dict(self._fields["kind"]._description_selection(self.env))
        for change in self:
            change.name = f"{change.move_id.name or ''}: {labels.get(change.kind, '')}" + (
                f" ({change.xero_source_number})" if change.kind == core.CREDIT else ""
            )

    # ------------------------------------------------------------------
    # Detection (the payments run calls these; no row is locked while Xero is read)
    # ------------------------------------------------------------------
    @api.model
    def _xero_detect(self, connection, move, invoice, client):
        """Record the changes Xero shows on exported invoice ``move`` (``invoice``: Xero's,
        just read); file a card for each one new. Returns the new changes."""
        recorded = {}
        for change in self.sudo().search([("move_id", "=", move.id), ("kind", "=", core.CREDIT)]):
            recorded[change.xero_source_id] = recorded.get(
                change.xero_source_id, core.money(0)
            ) + core.money(change.amount)
        ours = self._xero_own_credit_notes(move, invoice)
        found = []
        for cn_id, number, applied in core.credits_to_read(invoice, recorded, ours):
            note = core.get_credit_note(client, cn_id) or {
                "CreditNoteID": cn_id,
                "CreditNoteNumber": number,
            }
            total = recorded.get(cn_id, core.money(0)) + applied
            found.append(core.credit_change(move.xero_invoice_id, note, applied, total))
        data = self.env["xero.invoice.data"]._xero_invoice_data(connection, move)[move.id]
        found += core.invoice_changes(invoice_payload(data), invoice)
        new = self.browse([cid for c in found if (cid := self._xero_insert(connection, move, c))])
        for change in new:
            self.env["xero.failure"].sudo()._xero_report(
                "xero_change", change, change._xero_message(), connection
            )
        return new

    def _xero_own_credit_notes(self, move, invoice):
        """Ids of the credit notes on ``invoice`` that Odoo made (exported refunds, drafts made
        from a change): not changes."""
        ids = [
            c.get("CreditNoteID") for c in invoice.get("CreditNotes") or () if c.get("CreditNoteID")
        ]
        if not ids:
            return set()
        moves = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("company_id", "=", move.company_id.id),
                    ("move_type", "=", "out_refund"),
                    ("xero_invoice_id", "in", ids),
                    ("xero_change_id", "=", False),
                ]
            )
        )
        return set(moves.mapped("xero_invoice_id"))

    def _xero_insert(self, connection, move, change):
        """INSERT … ON CONFLICT DO NOTHING: the id of the new row, None when already there
        (seen before, or by a parallel run)."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            INSERT INTO xero_change
                   (connection_id, company_id, move_id, kind, xero_source_id,
                    xero_source_number, fingerprint, amount, line_data, line_amount_types,
                    xero_date, state, create_date, write_date, create_uid, write_uid)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, 'open',
                    now() at time zone 'UTC', now() at time zone 'UTC', %s, %s)
            ON CONFLICT (connection_id, xero_source_id, kind, fingerprint) DO NOTHING
            RETURNING id
            """,
            [
                connection.id,
                move.company_id.id,
                move.id,
                change.kind,
                change.source_id,
                change.source_number,
                change.fingerprint,
                float(change.amount),
                json.dumps([line.to_dict() for line in change.lines]),
                change.line_amount_types,
                change.date,
                self.env.uid,
                self.env.uid,
            ],
        )
        row = self.env.cr.fetchone()
        return row[0] if row else None

    @api.model
    def _xero_credit_note_invoices(self, connection, client):
        """(InvoiceIDs, event ids): the invoices of ``connection`` that the credit notes of its
        new CREDITNOTE events are allocated to (one ``GET /CreditNotes/{id}`` each), and those
        events (closed by the caller once the invoices are looked at)."""
        cr = self.env.cr
        cr.execute(
            """
            SELECT resource_id, array_agg(id) FROM xero_webhook_event
             WHERE connection_id = %s AND state IN ('new', 'failed')
               AND event_category = 'CREDITNOTE'
             GROUP BY resource_id
            """,
            [connection.id],
        )
        rows = cr.fetchall()
        invoice_ids, event_ids = [], []
        for cn_id, ids in rows:
            invoice_ids += core.allocated_invoice_ids(core.get_credit_note(client, cn_id))
            event_ids += ids
        if invoice_ids:
            cr.execute(
                "SELECT xero_invoice_id FROM account_move"
                " WHERE xero_connection_id = %s AND xero_invoice_id IN %s"
                " AND move_type = 'out_invoice'",
                [connection.id, tuple(invoice_ids)],
            )
            ours = {r[0] for r in cr.fetchall()}
            invoice_ids = [i for i in dict.fromkeys(invoice_ids) if i in ours]
        return invoice_ids, event_ids

    # ------------------------------------------------------------------
    # The card's words
    # ------------------------------------------------------------------
    def _xero_lines(self):
        self.ensure_one()
        return [core.ChangeLine.from_dict(d) for d in self.line_data or ()]

    def _xero_amount(self, value):
        return formatLang(self.env, float(value), currency_obj=self.currency_id)

    def _xero_message(self):
        self.ensure_one()
        inv = self.move_id.name
        if self.kind == core.CREDIT:
            head = self.env._(
                "Xero credited %(inv)s by %(amount)s (%(cn)s).",
                inv=inv,
                amount=self._xero_amount(self.amount),
                cn=self.xero_source_number,
            )
        elif self.kind == core.VOID:
            head = self.env._(
                "Xero voided %(inv)s (%(amount)s).", inv=inv, amount=self._xero_amount(self.amount)
            )
        else:
            head = self.env._(
                "%(inv)s was edited in Xero: its total changed by %(amount)s.",
                inv=inv,
                amount=self._xero_amount(self.amount),
            )
        out = [head]
        if self.kind != core.VOID:
            for line in self._xero_lines():
                out.append(
                    f"{'+' if line.line_amount >= 0 else '−'} {line.description or '-'}: "
                    f"{self._xero_amount(abs(line.line_amount))}"
                    + (f" ({line.tax_type})" if line.tax_type else "")
                )
            if not self.line_data and self.kind == core.CREDIT:
                out.append(self.env._("Xero did not give the credit note's lines."))
        unmapped = self.env["xero.change.draft"]._xero_unmapped(self)
        if unmapped:
            out.append(
                self.env._(
                    "Not mapped in Odoo (the draft leaves them to you): %s", ", ".join(unmapped)
                )
            )
        out.append(self.env._("Make draft prepares the matching entry in Odoo; nothing is posted."))
        return "\n".join(out)
