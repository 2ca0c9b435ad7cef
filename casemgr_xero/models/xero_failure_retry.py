# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Retry on every dashboard card (``xero.failure.retry``, the service behind the cards' Retry
button): the real flow behind each kind runs again."""

from casemgr_xero_core.errors import XeroError

from odoo import fields, models
from odoo.exceptions import UserError


class XeroFailureRetry(models.AbstractModel):
    _name = "xero.failure.retry"
    _description = "Retry of Xero failure cards"

    def _xero_retry(self, cards):
        """Run the real flow behind each card again (the same records, never a copy).

        * invoice export → the invoice goes back in the export queue (the cron sends it);
        * mapping / contact (one card per cause) → check the cause again; when it is fixed,
          the invoices it blocked go back in the export queue (contacts are resolved again
          first, by the export itself);
        * payment import → read the invoice's payments in Xero again and mirror them now;
        * drift → compare the invoice with Xero again now;
        * auth → reconnect (Xero's sign-in, or the client-credentials grant).

        A later success closes a card by itself (export, payment sync, drift check, reconnect).
        """
        failures = cards.filtered(lambda f: f.state in ("open", "retrying"))
        if not failures:
            raise UserError(self.env._("Retry: only open failures can be retried."))
        auth = failures.filtered(lambda f: f.kind == "auth")
        if auth:
            if len(failures) > 1:
                raise UserError(
                    self.env._(
                        "Retry: %(name)s is a connection problem; open it alone and reconnect "
                        "the Xero connection.",
                        name=auth[0].name,
                    )
                )
            return self._xero_retry_auth(auth)
        lines, skipped = [], []
        invoices = failures.filtered(
            lambda f: f.kind == "invoice_export" and f.res_model == "account.move"
        )
        if invoices:
            done, skip = self._xero_retry_invoices(invoices)
            if done:
                lines.append(self.env._("%s invoice(s) queued for Xero again.", len(done)))
            skipped += skip
        handlers = {
            "mapping": "_xero_retry_cause",
            "contact": "_xero_retry_cause",
            "payment_import": "_xero_retry_payment",
            "drift": "_xero_retry_drift",
        }
        for failure in failures - invoices:
            record = failure._xero_record()
            if not record:
                skipped.append(self.env._("%s: the record no longer exists", failure.name))
                continue
            handler = handlers.get(failure.kind)
            if handler:
                line, skip = getattr(self, handler)(failure, record)
            else:
                line, skip = (
                    None,
                    self.env._(
                        "%(name)s: cannot be retried from here, open the record and fix it",
                        name=failure.name,
                    ),
                )
            if line:
                lines.append(line)
            if skip:
                skipped.append(skip)
        if not lines:
            raise UserError(self.env._("Retry did nothing:\n%s", "\n".join(skipped)))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Retry"),
                "message": "\n".join(lines + [self.env._("Skipped: %s", s) for s in skipped]),
                "type": "warning" if skipped else "success",
                "sticky": bool(skipped),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _xero_retry_invoices(self, failures):
        """Put the invoices back in the export queue; return (retried failures, [reasons])."""
        moves = failures.env["account.move"].browse(failures.mapped("res_id")).exists()
        queued, skipped = moves._xero_queue()
        reasons = []
        for reason, skipped_moves in skipped.items():
            reasons.append(
                self.env._(
                    "%(names)s (%(reason)s)",
                    names=", ".join(skipped_moves.mapped("display_name")),
                    reason=reason,
                )
            )
        missing = failures.filtered(lambda f: f.res_id not in moves.ids)
        reasons += [self.env._("%s: the invoice no longer exists", f.name) for f in missing]
        done = failures.filtered(lambda f: f.res_id in queued.ids)
        done.write({"state": "retrying"})
        return done, reasons

    def _xero_retry_cause(self, card, record):
        """Mapping or contact card: is the cause fixed? Then send the invoices it blocked."""
        card.ensure_one()
        if card.kind == "mapping" and record._name == "account.tax":
            mapped = card.env["xero.tax.mapping"].search_count(
                [("connection_id", "=", card.connection_id.id), ("tax_id", "=", record.id)]
            )
            if not mapped:
                return None, self.env._(
                    "%(name)s: tax %(tax)s still has no Xero tax type; map it under "
                    "Invoicing > Configuration > Xero > Tax types first",
                    name=card.name,
                    tax=record.display_name,
                )
        moves = card.move_ids.exists().filtered(lambda m: m.xero_state == "failed")
        queued, skipped = moves._xero_queue()
        card.move_ids = [fields.Command.unlink(m.id) for m in card.move_ids - moves]
        if not queued:
            if not card.move_ids:
                card.state = "resolved"
                return self.env._("%s: nothing is blocked any more.", card.name), None
            return None, self.env._(
                "%(name)s: %(reasons)s", name=card.name, reasons=", ".join(skipped)
            )
        card.state = "retrying"
        return (
            self.env._(
                "%(name)s: %(n)s invoice(s) queued for Xero.", name=card.name, n=len(queued)
            ),
            None,
        )

    def _xero_retry_payment(self, card, record):
        """Read the invoice's payments in Xero again and mirror them now (the card closes on
        success; a temporary Xero error leaves it to the payments cron)."""
        card.ensure_one()
        conn = (card.connection_id or record.xero_connection_id).sudo()
        if record._name != "account.move" or not record.xero_invoice_id or not conn:
            return None, self.env._("%s: not an invoice in Xero", card.name)
        try:
            card.env["xero.payment.reconcile"].sudo()._xero_sync_invoice_payments(
                conn, [record.xero_invoice_id]
            )
        except (XeroError, UserError) as exc:
            card.state = "retrying"
            card.env.ref("casemgr_xero.ir_cron_xero_payments")._trigger()
            return self.env._(
                "%(name)s: Xero did not answer (%(msg)s); the payments cron will try again.",
                name=card.name,
                msg=exc,
            ), None
        card.invalidate_recordset(["state", "message"])
        if card.state == "resolved":
            return self.env._("%s: payments mirrored from Xero.", card.name), None
        return None, self.env._("%(name)s: %(msg)s", name=card.name, msg=card.message)

    def _xero_retry_drift(self, card, record):
        """Compare this invoice with Xero again now."""
        card.ensure_one()
        conn = (card.connection_id or record.xero_connection_id).sudo()
        if record._name != "account.move" or not conn:
            return None, self.env._("%s: not an invoice in Xero", card.name)
        try:
            differences, _checked = (
                card.env["xero.drift"]
                .with_company(conn.company_id)
                ._xero_drift_differences(conn.with_company(conn.company_id), moves=record)
            )
        except (XeroError, UserError) as exc:
            return None, self.env._("%(name)s: %(msg)s", name=card.name, msg=exc)
        if differences:
            drift = card.env["xero.drift"]
            message = "\n".join(drift._xero_difference_text(d) for _m, d in differences)
            card._xero_report("drift", record, message, conn)
            return None, self.env._("%(name)s: still differs: %(msg)s", name=card.name, msg=message)
        card._xero_resolve("drift", record)
        return self.env._("%s: matches Xero again.", card.name), None

    def _xero_retry_auth(self, card):
        """Reconnect: Xero's sign-in (OAuth) or a new client-credentials grant."""
        card.ensure_one()
        connection = card.connection_id
        if not connection and card.res_model == "xero.connection":
            connection = card._xero_record()
        if not connection:
            raise UserError(
                self.env._(
                    "Xero failure %(name)s: its connection no longer exists.", name=card.name
                )
            )
        result = connection.action_xero_connect()
        if isinstance(result, dict):
            return result
        return {
            "type": "ir.actions.act_window",
            "res_model": "xero.connection",
            "res_id": connection.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }
