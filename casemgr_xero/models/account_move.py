# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Customer invoices' Xero state, eligibility, queueing and buttons.

State machine (``xero_state``): not_sent → queued → sending → sent | failed; ``csv`` marks an
invoice exported by the legacy CSV wizard (imported into Xero by hand), never sent by the API.
Buttons only queue and trigger the export cron; the sending is ``xero.export``'s.
"""

from odoo import api, fields, models

XERO_WEB_INVOICE_URL = "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=%s"


class AccountMove(models.Model):
    _inherit = "account.move"

    xero_state = fields.Selection(
        [
            ("not_sent", "Not sent"),
            ("queued", "Queued"),
            ("sending", "Sending"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("csv", "Exported by CSV"),
        ],
        string="Xero",
        default="not_sent",
        copy=False,
        index=True,
    )
    xero_invoice_id = fields.Char(string="Xero InvoiceID", copy=False, index=True, readonly=True)
    xero_connection_id = fields.Many2one("xero.connection", copy=False, index=True, readonly=True)
    # Indexed for the dashboard's "sent today" (only exported moves have one).
    xero_sent_at = fields.Datetime(
        string="Sent to Xero", copy=False, readonly=True, index="btree_not_null"
    )
    xero_error = fields.Text(copy=False, readonly=True)
    xero_attempt_key = fields.Char(copy=False, readonly=True)
    xero_attempt_at = fields.Datetime(copy=False, readonly=True)
    xero_outcome_unknown = fields.Boolean(
        copy=False,
        readonly=True,
        help="A previous attempt may have reached Xero: look it up before sending again.",
    )
    xero_url = fields.Char(string="Open in Xero", compute="_compute_xero_url")

    @api.depends("xero_invoice_id")
    def _compute_xero_url(self):
        for move in self:
            move.xero_url = (
                XERO_WEB_INVOICE_URL % move.xero_invoice_id if move.xero_invoice_id else False
            )

    # ------------------------------------------------------------------
    # Queueing (buttons, server action, wizard)
    # ------------------------------------------------------------------
    def _xero_skip_reason(self, connections):
        """Why this move cannot be queued (None when it can)."""
        self.ensure_one()
        if self.move_type not in ("out_invoice", "out_refund"):
            return self.env._("not a customer invoice or credit note")
        if self.state != "posted":
            return self.env._("not posted")
        if self.xero_state == "sent":
            return self.env._("already in Xero")
        if self.xero_state in ("queued", "sending"):
            return self.env._("already queued")
        if self.xero_state == "csv":
            # Imported into Xero by hand from a CSV file: sending it too would duplicate it.
            return self.env._("already exported by CSV")
        conn = connections.get(self.company_id.id)
        if not conn:
            return self.env._("company %s has no Xero connection", self.company_id.name)
        if conn.state != "connected":
            return self.env._("the Xero connection of %s is not connected", self.company_id.name)
        return None

    def _xero_queue(self):
        """Queue what can be queued; return (queued moves, {reason: moves}).

        The Xero fields are written in SQL, as the export writes its outcomes: through
        account.move's write() each invoice's tax and payment-term lines would be synced again
        (~14 ms an invoice: 12 minutes for a year of 50,000, past a request's time limit) and
        Odoo's own "manually modified" flag set. Access is checked as write() would."""
        connections = {
            c.company_id.id: c
            for c in self.env["xero.connection"].search([("company_id", "in", self.company_id.ids)])
        }
        queued_ids, skipped_ids = [], {}
        for move in self:
            reason = move._xero_skip_reason(connections)
            if reason:
                skipped_ids.setdefault(reason, []).append(move.id)
            else:
                queued_ids.append(move.id)
        queued = self.browse(queued_ids)
        skipped = {reason: self.browse(ids) for reason, ids in skipped_ids.items()}
        queued.check_access("write")
        queued.flush_recordset()
        for company_id, moves in queued.grouped(lambda m: m.company_id.id).items():
            # Xero already knows some of them (e.g. a total mismatch): look up, never resend.
            self.env.cr.execute(
                """
                UPDATE account_move
                   SET xero_state = 'queued', xero_connection_id = %s, xero_error = NULL,
                       xero_outcome_unknown = xero_outcome_unknown OR xero_invoice_id IS NOT NULL,
                       write_uid = %s, write_date = now() at time zone 'utc'
                 WHERE id = ANY(%s)
                """,
                [connections[company_id].id, self.env.uid, moves.ids],
            )
        queued.invalidate_recordset(
            [
                "xero_state",
                "xero_connection_id",
                "xero_error",
                "xero_outcome_unknown",
                "write_uid",
                "write_date",
            ]
        )
        if queued:
            self.env.ref("casemgr_xero.ir_cron_xero_export")._trigger()
        return queued, skipped

    def action_xero_send(self):
        """Send to Xero: queue the eligible moves; the export cron does the sending."""
        queued, skipped = self._xero_queue()
        lines = [self.env._("%s invoice(s) queued for Xero.", len(queued))]
        for reason, moves in skipped.items():
            names = ", ".join(moves[:5].mapped("display_name"))
            more = self.env._(" and %s more", len(moves) - 5) if len(moves) > 5 else ""
            lines.append(
                self.env._(
                    "%(count)s skipped (%(reason)s): %(names)s%(more)s",
                    count=len(moves),
                    reason=reason,
                    names=names,
                    more=more,
                )
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Send to Xero"),
                "message": "\n".join(lines),
                "type": "success" if queued and not skipped else "warning",
                "sticky": bool(skipped),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_xero_open(self):
        self.ensure_one()
        return {"type": "ir.actions.act_url", "url": self.xero_url, "target": "new"}
