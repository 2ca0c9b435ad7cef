# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Drift: does Xero still hold what we exported? (the cron files cards, the wizard reports)"""

import logging

from casemgr_xero_core.drift import OdooDocument, compare
from casemgr_xero_core.errors import XeroError

from odoo import api, models

from .. import compat
from ..transaction import commit_batch

_logger = logging.getLogger(__name__)


class XeroDrift(models.AbstractModel):
    _name = "xero.drift"
    _description = "Xero drift check service"

    def _xero_drift_differences(self, conn, moves=None):
        """([(move, drift.Difference)], checked moves) for this connection's exported invoices
        (only ``moves`` among them when given)."""
        conn.ensure_one()
        domain = [("xero_connection_id", "=", conn.id), ("xero_state", "=", "sent")]
        if moves is not None:
            domain.append(("id", "in", moves.ids))
        moves = self.env["account.move"].search(domain)
        if not moves:
            return [], moves
        invoices = moves.filtered(lambda m: m.move_type == "out_invoice")
        xero = conn._xero_client().get_invoices_by_ids(invoices.mapped("xero_invoice_id"))
        documents = [
            OdooDocument(
                key=m.id,
                number=m.name,
                xero_id=m.xero_invoice_id,
                total=m.amount_total,
                amount_due=m.amount_residual,
                paid=m.payment_state in ("paid", "in_payment"),
            )
            for m in invoices
        ]
        by_id = {m.id: m for m in invoices}
        return [(by_id[d.key], d) for d in compare(documents, xero)], invoices

    def _xero_difference_text(self, diff):
        """A ``casemgr_xero_core.drift.Difference`` in the user's language."""
        if diff.field == "existence":
            return self.env._(
                "Invoice %(number)s: exists in Odoo as exported but Xero does not have it "
                "(Xero ID %(xero)s).",
                number=diff.number,
                xero=diff.xero,
            )
        what = {
            "total": self.env._("total differs"),
            "amount_due": self.env._("amount due differs"),
            "status": self.env._("status differs"),
        }
        odoo_states = {
            "posted": self.env._("posted"),
            "paid": self.env._("paid"),
            "not paid": self.env._("not paid"),
        }
        return self.env._(
            "Invoice %(number)s: %(what)s — Odoo %(odoo)s, Xero %(xero)s.",
            number=diff.number,
            what=what.get(diff.field, diff.field),
            odoo=odoo_states.get(diff.odoo, diff.odoo),
            xero=diff.xero,
        )

    @api.model
    def _cron_xero_drift(self):
        """File one 'drift' failure per differing invoice; resolve those that match again.

        One connection at a time, each committed with its progress (``transaction.py``): a
        failure of one organisation's checks keeps what the others found."""
        Failure = self.env["xero.failure"]
        commit_batch(self.env)  # whatever ran before us is committed; a fresh snapshot
        conns = self.env["xero.connection"].search([("state", "=", "connected")])
        for done, conn in enumerate(conns, 1):
            try:
                differences, checked = self.with_company(conn.company_id)._xero_drift_differences(
                    conn.with_company(conn.company_id)
                )
            except XeroError as exc:
                _logger.warning("Xero drift check of connection %s failed: %s", conn.id, exc)
                compat.cron_progress(self.env, done, len(conns) - done)
                commit_batch(self.env)
                continue
            by_move = {}
            for move, diff in differences:
                by_move.setdefault(move, []).append(self._xero_difference_text(diff))
            for move, messages in by_move.items():
                Failure._xero_report("drift", move, "\n".join(messages), conn)
            if checked:
                Failure._xero_resolve(
                    "drift", checked.filtered(lambda m, bad=by_move: m not in bad)
                )
            compat.cron_progress(self.env, done, len(conns) - done)
            commit_batch(self.env)
        return True

    def _xero_drift_report(self, conn):
        """The drift report wizard of ``conn``, filled."""
        wizard = self.env["xero.drift.wizard"].create({"connection_id": conn.id})
        wizard.action_xero_check()
        return {
            "type": "ir.actions.act_window",
            "res_model": "xero.drift.wizard",
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }
