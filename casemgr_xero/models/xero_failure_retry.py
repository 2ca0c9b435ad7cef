# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Retry on every dashboard card: the real flow behind each kind runs again."""

from casemgr_xero_core.errors import XeroError

from odoo import fields, models
from odoo.exceptions import UserError


class XeroFailure(models.Model):
    _inherit = "xero.failure"

    def action_xero_retry(self):
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
        failures = self.filtered(lambda f: f.state in ("open", "retrying"))
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
            return auth._xero_retry_auth()
        lines, skipped = [], []
        invoices = failures.filtered(
            lambda f: f.kind == "invoice_export" and f.res_model == "account.move"
        )
        if invoices:
            done, skip = invoices._xero_retry_invoices()
            if done:
                lines.append(self.env._("%s invoice(s) queued for Xero again.", len(done)))
            skipped += skip
        handlers = {
            "mapping": "_xero_retry_cause",
            "contact": "_xero_retry_cause",
            "payment_import": "_xero_retry_payment",
            "drift": "_xero_retry_drift",
            "invoice_pdf": "_xero_retry_pdf",
        }
        for failure in failures - invoices:
            record = failure._xero_record()
            if not record:
                skipped.append(self.env._("%s: the record no longer exists", failure.name))
                continue
            handler = handlers.get(failure.kind)
            if handler:
                line, skip = getattr(failure, handler)(record)
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

    def _xero_retry_invoices(self):
        """Put the invoices back in the export queue; return (retried failures, [reasons])."""
        moves = self.env["account.move"].browse(self.mapped("res_id")).exists()
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
        missing = self.filtered(lambda f: f.res_id not in moves.ids)
        reasons += [self.env._("%s: the invoice no longer exists", f.name) for f in missing]
        done = self.filtered(lambda f: f.res_id in queued.ids)
        done.write({"state": "retrying"})
        return done, reasons

    def _xero_retry_cause(self, record):
        """Mapping or contact card: is the cause fixed? Then send the invoices it blocked."""
        self.ensure_one()
        if self.kind == "mapping" and record._name == "account.tax":
            mapped = self.env["xero.tax.mapping"].search_count(
                [("connection_id", "=", self.connection_id.id), ("tax_id", "=", record.id)]
            )
            if not mapped:
                return None, self.env._(
                    "%(name)s: tax %(tax)s still has no Xero tax type; map it under "
                    "Invoicing > Configuration > Xero > Tax types first",
                    name=self.name,
                    tax=record.display_name,
                )
        moves = self.move_ids.exists().filtered(lambda m: m.xero_state == "failed")
        queued, skipped = moves._xero_queue()
        self.move_ids = [fields.Command.unlink(m.id) for m in self.move_ids - moves]
        if not queued:
            if not self.move_ids:
                self.state = "resolved"
                return self.env._("%s: nothing is blocked any more.", self.name), None
            return None, self.env._(
                "%(name)s: %(reasons)s", name=self.name, reasons=", ".join(skipped)
            )
        self.state = "retrying"
        return (
            self.env._(
                "%(name)s: %(n)s invoice(s) queued for Xero.", name=self.name, n=len(queued)
            ),
            None,
        )

    def _xero_retry_payment(self, record):
        """Read the invoice's payments in Xero again and mirror them now (the card closes on
        success; a temporary Xero error leaves it to the payments cron)."""
        self.ensure_one()
        conn = (self.connection_id or record.xero_connection_id).sudo()
        if record._name != "account.move" or not record.xero_invoice_id or not conn:
            return None, self.env._("%s: not an invoice in Xero", self.name)
        try:
            self.env["xero.payment.reconcile"].sudo()._xero_sync_invoice_payments(
                conn, [record.xero_invoice_id]
            )
        except (XeroError, UserError) as exc:
            self.state = "retrying"
            self.env.ref("casemgr_xero.ir_cron_xero_payments")._trigger()
            return self.env._(
                "%(name)s: Xero did not answer (%(msg)s); the payments cron will try again.",
                name=self.name,
                msg=exc,
            ), None
        self.invalidate_recordset(["state", "message"])
        if self.state == "resolved":
            return self.env._("%s: payments mirrored from Xero.", self.name), None
        return None, self.env._("%(name)s: %(msg)s", name=self.name, msg=self.message)

    def _xero_retry_drift(self, record):
        """Compare this invoice with Xero again now."""
        self.ensure_one()
        conn = (self.connection_id or record.xero_connection_id).sudo()
        if record._name != "account.move" or not conn:
            return None, self.env._("%s: not an invoice in Xero", self.name)
        try:
            differences, _checked = (
                self.env["xero.drift"]
                .with_company(conn.company_id)
                ._xero_drift_differences(conn.with_company(conn.company_id), moves=record)
            )
        except (XeroError, UserError) as exc:
            return None, self.env._("%(name)s: %(msg)s", name=self.name, msg=exc)
        if differences:
            drift = self.env["xero.drift"]
            message = "\n".join(drift._xero_difference_text(d) for _m, d in differences)
            self._xero_report("drift", record, message, conn)
            return None, self.env._("%(name)s: still differs: %(msg)s", name=self.name, msg=message)
        self._xero_resolve("drift", record)
        return self.env._("%s: matches Xero again.", self.name), None

    def _xero_retry_pdf(self, record):
        """Attach the invoice's PDF again (the PDF cron; the invoice is never sent again)."""
        self.ensure_one()
        if not self.env["xero.attachment"].sudo()._xero_pdf_retry(record):
            return None, self.env._(
                "%s: not an invoice in Xero whose connection attaches PDFs", self.name
            )
        self.state = "retrying"
        return self.env._("%s: its PDF will be attached in Xero again.", self.name), None

    def _xero_retry_auth(self):
        """Reconnect: Xero's sign-in (OAuth) or a new client-credentials grant."""
        self.ensure_one()
        connection = self.connection_id
        if not connection and self.res_model == "xero.connection":
            connection = self._xero_record()
        if not connection:
            raise UserError(
                self.env._(
                    "Xero failure %(name)s: its connection no longer exists.", name=self.name
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
