# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
from datetime import timedelta
from decimal import Decimal

from casemgr_xero_core.errors import XeroError

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import formatLang

_logger = logging.getLogger(__name__)

RETENTION_PARAM = "casemgr_xero.failure_retention_days"
DEFAULT_RETENTION_DAYS = 30
SUMMARY_LENGTH = 240

KINDS = [
    ("invoice_export", "Invoice export"),
    ("payment_import", "Payment import"),
    ("contact", "Contact"),
    ("auth", "Authentication / connection"),
    ("mapping", "Mapping"),
    ("drift", "Drift"),
]


CAUSE_KINDS = ("mapping", "contact")


class XeroCause(str):
    """A problem line whose cause is one record a person fixes once for every invoice it
    blocks (an unmapped tax, a contact Xero refused): filed as one card per cause."""

    def __new__(cls, text, kind, record):
        obj = super().__new__(cls, text)
        obj.xero_kind = kind
        obj.xero_model = record._name
        obj.xero_res_id = record.id
        return obj


class XeroProblems(str):
    """Problem lines joined into one message that remembers which lines have a cause."""

    def __new__(cls, lines):
        obj = super().__new__(cls, "\n".join(lines))
        obj.xero_causes = [line for line in lines if isinstance(line, XeroCause)]
        obj.xero_other = [line for line in lines if not isinstance(line, XeroCause)]
        return obj


class XeroFailure(models.Model):
    """One thing a person can fix: an invoice Xero refused, a payment we could not mirror, …

    There is at most one open failure per (kind, record): a new occurrence bumps ``attempts``
    and ``last_seen`` instead of adding a line, and a later success resolves it.
    """

    _name = "xero.failure"
    _description = "Xero Failure"
    _inherit = ["mail.thread"]
    _order = "last_seen desc, id desc"

    name = fields.Char(string="Record", required=True)
    connection_id = fields.Many2one("xero.connection", ondelete="cascade", index=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    kind = fields.Selection(KINDS, required=True, index=True)
    res_model = fields.Char(index=True)
    res_id = fields.Many2oneReference(model_field="res_model", index=True)
    message = fields.Text(required=True)
    attempts = fields.Integer(default=1)
    first_seen = fields.Datetime(default=fields.Datetime.now, required=True)
    last_seen = fields.Datetime(default=fields.Datetime.now, required=True)
    state = fields.Selection(
        [
            ("open", "Open"),
            ("retrying", "Retrying"),
            ("resolved", "Resolved"),
            ("ignored", "Ignored"),
        ],
        default="open",
        required=True,
        index=True,
        tracking=True,
        group_expand=True,  # the dashboard always shows the four columns
    )
    summary = fields.Char(
        string="Last Xero message",
        compute="_compute_summary",
        help="Xero's last message in one short paragraph.",
    )
    xero_url = fields.Char(string="Open in Xero", compute="_compute_xero_url")
    move_ids = fields.Many2many(
        "account.move",
        "xero_failure_blocked_move_rel",
        "failure_id",
        "move_id",
        string="Blocked invoices",
        help="The invoices this cause keeps out of Xero: Retry sends them again.",
    )
    move_count = fields.Integer(string="Blocked", compute="_compute_move_count")

    @api.depends("message")
    def _compute_summary(self):
        for failure in self:
            text = " ".join((failure.message or "").split())
            if len(text) > SUMMARY_LENGTH:
                text = text[: SUMMARY_LENGTH - 1].rstrip() + "…"
            failure.summary = text

    @api.depends("move_ids")
    def _compute_move_count(self):
        for failure in self:
            failure.move_count = len(failure.move_ids)

    @api.depends("res_model", "res_id")
    def _compute_xero_url(self):
        move_ids = [f.res_id for f in self if f.res_model == "account.move" and f.res_id]
        urls = {}
        if move_ids:
            moves = self.env["account.move"].browse(move_ids).exists()
            urls = {m.id: m.xero_url for m in moves}
        for failure in self:
            failure.xero_url = (
                urls.get(failure.res_id) if failure.res_model == "account.move" else False
            ) or False

    @api.model
    def _xero_report(self, kind, record, message, connection=None):
        """Open (or bump) the failure of ``kind`` for ``record``; return it."""
        company = connection.company_id if connection else record.company_id
        # Per company: a shared record (e.g. a partner) can fail in two organisations.
        domain = [
            ("kind", "=", kind),
            ("res_model", "=", record._name),
            ("res_id", "=", record.id),
            ("company_id", "=", company.id),
            ("state", "in", ("open", "retrying")),
        ]
        failure = self.sudo().search(domain, limit=1)
        if not failure:
            acknowledged = self.sudo().search(
                domain[:4] + [("state", "=", "ignored"), ("message", "=", message)], limit=1
            )
            if acknowledged:
                return acknowledged  # a person saw this very problem and chose to ignore it
        now = fields.Datetime.now()
        if failure:
            failure.write(
                {
                    "message": message,
                    "attempts": failure.attempts + 1,
                    "last_seen": now,
                    "state": "open",
                }
            )
            return failure
        return self.sudo().create(
            {
                "name": record.display_name,
                "kind": kind,
                "res_model": record._name,
                "res_id": record.id,
                "message": message,
                "connection_id": connection.id if connection else False,
                "company_id": company.id,
                "first_seen": now,
                "last_seen": now,
            }
        )

    @api.model
    def _xero_resolve(self, kind, records, connection=None):
        """A success on ``records`` closes their open failures of ``kind`` (only those of
        ``connection``'s company when given: a shared partner may still fail elsewhere)."""
        if not records:
            return
        domain = [
            ("kind", "=", kind),
            ("res_model", "=", records._name),
            ("res_id", "in", records.ids),
            ("state", "in", ("open", "retrying")),
        ]
        if connection:
            domain.append(("company_id", "=", connection.company_id.id))
        self.sudo().search(domain).write({"state": "resolved"})

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------
    def _xero_record(self):
        """The record this failure is about (empty when it no longer exists)."""
        self.ensure_one()
        if not self.res_model or not self.res_id or self.res_model not in self.env:
            return None
        return self.env[self.res_model].browse(self.res_id).exists()

    def action_xero_open_record(self):
        self.ensure_one()
        if not self._xero_record():
            raise UserError(
                self.env._(
                    "Xero failure %(name)s: the record it is about no longer exists; ignore it.",
                    name=self.name,
                )
            )
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    def action_xero_open_in_xero(self):
        self.ensure_one()
        if not self.xero_url:
            raise UserError(
                self.env._("Xero failure %(name)s: this record is not in Xero yet.", name=self.name)
            )
        return {"type": "ir.actions.act_url", "url": self.xero_url, "target": "new"}

    def action_xero_open_blocked(self):
        """The invoices this cause keeps out of Xero (its form when there is one)."""
        self.ensure_one()
        if len(self.move_ids) == 1:
            return {
                "type": "ir.actions.act_window",
                "res_model": "account.move",
                "res_id": self.move_ids.id,
                "view_mode": "form",
            }
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Blocked by %s", self.name),
            "res_model": "account.move",
            "view_mode": "list,form",
            "views": [
                (self.env.ref("account.view_out_invoice_tree").id, "list"),
                (False, "form"),
            ],
            "domain": [("id", "in", self.move_ids.ids)],
            "context": {"create": False},
        }

    def action_xero_ignore(self):
        self.write({"state": "ignored"})
        return True

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
        }
        for failure in failures - invoices:
            record = failure._xero_record()
            if not record:
                skipped.append(self.env._("%s: the record no longer exists", failure.name))
                continue
            handler = handlers.get(failure.kind)
            if handler:
                line, skip = getattr(failure, handler)(record)
            elif hasattr(record, "_xero_retry_failure"):
                record._xero_retry_failure(failure)
                failure.state = "retrying"
                line, skip = self.env._("%s: retrying.", failure.name), None
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
            self.env["account.move"].sudo()._xero_sync_invoice_payments(
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
            differences, _checked = conn._xero_drift_differences(moves=record)
        except (XeroError, UserError) as exc:
            return None, self.env._("%(name)s: %(msg)s", name=self.name, msg=exc)
        if differences:
            message = "\n".join(d.message for _m, d in differences)
            self._xero_report("drift", record, message, conn)
            return None, self.env._("%(name)s: still differs: %(msg)s", name=self.name, msg=message)
        self._xero_resolve("drift", record)
        return self.env._("%s: matches Xero again.", self.name), None

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

    # ------------------------------------------------------------------
    # Filing from the export (cause cards, sent-with-a-difference)
    # ------------------------------------------------------------------
    @api.model
    def _xero_report_export(self, messages, connection):
        """Xero refused (or we did not send) these invoices ({move: message}): one card per
        cause (unmapped tax, contact) listing every invoice it blocks (bumped once per run,
        not once per invoice), and an invoice's own card only for its other problems."""
        by_cause = {}
        for move, message in messages.items():
            for cause in getattr(message, "xero_causes", None) or []:
                key = (cause.xero_kind, cause.xero_model, cause.xero_res_id)
                by_cause.setdefault(key, (cause, self.env["account.move"]))
                by_cause[key] = (by_cause[key][0], by_cause[key][1] | move)
        cards = {}
        for (kind, model, res_id), (cause, moves) in by_cause.items():
            record = self.env[model].browse(res_id)
            card = self._xero_report(kind, record, self._xero_cause_text(cause, record), connection)
            if card.state == "ignored":
                continue
            if card.attempts == 1 and card.name == record.display_name:
                card.name = self._xero_cause_title(kind, record)
            card.move_ids = [fields.Command.link(m.id) for m in moves]
            for move in moves:
                cards[move] = cards.get(move, self.browse()) | card
        result = self.browse()
        for move, message in messages.items():
            keep = cards.get(move, self.browse())
            self._xero_release_moves(move, keep)
            result |= keep
            causes = getattr(message, "xero_causes", None)
            if causes and not getattr(message, "xero_other", None):
                self._xero_resolve("invoice_export", move, connection)
            else:
                result |= self._xero_report("invoice_export", move, message, connection)
        return result

    def _xero_cause_title(self, kind, record):
        if kind == "mapping" and record._name == "account.tax":
            return self.env._("Map tax %s", record.display_name)
        if kind == "contact":
            return self.env._("Contact %s", record.display_name)
        return record.display_name

    def _xero_cause_text(self, cause, record):
        if cause.xero_kind == "mapping" and record._name == "account.tax":
            return self.env._(
                "Tax %(tax)s has no Xero tax type: map it under Invoicing > Configuration > "
                "Xero > Tax types, then press Retry: every invoice listed on this card is sent.",
                tax=record.display_name,
            )
        if cause.xero_kind == "contact":
            return self.env._(
                "Customer %(partner)s could not be matched or created in Xero (field Customer). "
                "Fix the customer (name, e-mail, reference) or its contact in Xero, then press "
                "Retry: every invoice listed on this card is sent.",
                partner=record.display_name,
            )
        return str(cause)

    @api.model
    def _xero_release_moves(self, moves, keep=None):
        """``moves`` are no longer blocked by the cause cards other than ``keep``: take them off
        those cards; a card left with no invoice is resolved."""
        cards = self.sudo().search(
            [
                ("kind", "in", CAUSE_KINDS),
                ("move_ids", "in", moves.ids),
                ("state", "in", ("open", "retrying")),
            ]
        ) - (keep or self.browse())
        for card in cards:
            card.move_ids = [fields.Command.unlink(m.id) for m in moves]
            if not card.move_ids:
                card.state = "resolved"

    @api.model
    def _xero_report_sent(self, moves, messages, connection):
        """``moves`` are in Xero: they leave their cause cards; those with a message (Xero's
        total differs) get a drift card saying by how much and why it may."""
        self._xero_release_moves(moves)
        for move in moves:
            if messages.get(move.id):
                self._xero_report("drift", move, messages[move.id], connection)

    @api.model
    def _xero_total_mismatch_message(self, connection, client, move, xero_total):
        """Why Xero's total may differ from Odoo's: each tax's rate against its Xero tax
        type's rate (when Xero lists its tax rates), else rounding."""
        xero_total = Decimal(str(xero_total))
        odoo_total = Decimal(str(move.amount_total))
        diff = xero_total - odoo_total
        cur = move.currency_id
        lines = [
            self.env._(
                "Invoice %(inv)s is in Xero, but Xero's total %(xero)s differs from Odoo's "
                "%(odoo)s by %(diff)s.",
                inv=move.name,
                xero=formatLang(self.env, float(xero_total), currency_obj=cur),
                odoo=formatLang(self.env, float(odoo_total), currency_obj=cur),
                diff=formatLang(self.env, float(diff), currency_obj=cur),
            )
        ]
        mappings = {
            m.tax_id: m.xero_tax_type
            for m in self.env["xero.tax.mapping"]
            .sudo()
            .search([("connection_id", "=", connection.id)])
        }
        rates = None
        try:
            listed = client.get_tax_rates()
            if listed is not None:
                rates = {r.get("TaxType"): r for r in listed}
        except XeroError:
            rates = None
        reasons = []
        for tax in move.invoice_line_ids.tax_ids:
            tax_type = mappings.get(tax)
            if not tax_type:
                continue
            xero_rate = (rates or {}).get(tax_type, {}).get("EffectiveRate")
            if xero_rate is None:
                xero_rate = (rates or {}).get(tax_type, {}).get("DisplayTaxRate")
            if xero_rate is not None and Decimal(str(xero_rate)) != Decimal(str(tax.amount)):
                reasons.append(
                    self.env._(
                        "tax %(tax)s (%(rate)s%%) is sent as Xero tax type %(type)s, whose rate "
                        "in Xero is %(xrate)s%%: map it to a tax type of the same rate",
                        tax=tax.display_name,
                        rate=tax.amount,
                        type=tax_type,
                        xrate=xero_rate,
                    )
                )
            elif xero_rate is None:
                reasons.append(
                    self.env._(
                        "tax %(tax)s (%(rate)s%%) is sent as Xero tax type %(type)s: check that "
                        "type's rate in Xero",
                        tax=tax.display_name,
                        rate=tax.amount,
                        type=tax_type,
                    )
                )
        if not reasons or abs(diff) <= Decimal("0.01") * max(len(move.invoice_line_ids), 1):
            reasons.append(
                self.env._("rounding: Xero rounds the tax of each line, Odoo may round globally")
            )
        lines.append(self.env._("Why it may: %s.", "; ".join(reasons)))
        lines.append(
            self.env._(
                "It is marked sent (do not send it again): correct it in Xero or in Odoo, "
                "then Retry compares it again."
            )
        )
        return "\n".join(lines)

    # ------------------------------------------------------------------
    # Cron
    # ------------------------------------------------------------------
    @api.model
    def _cron_xero_failure_cleanup(self):
        """Delete resolved and ignored failures untouched for longer than the retention period.

        The age is counted from the last change (resolving or ignoring is one), so that a
        failure ignored today stays visible for the whole period even if Xero first
        reported it long ago.
        """
        param = self.env["ir.config_parameter"].sudo().get_param(RETENTION_PARAM)
        try:
            days = int(param) if param not in (None, False, "") else DEFAULT_RETENTION_DAYS
        except ValueError:
            _logger.warning(
                "%s=%r is not a number of days; using %s",
                RETENTION_PARAM,
                param,
                DEFAULT_RETENTION_DAYS,
            )
            days = DEFAULT_RETENTION_DAYS
        if days < 0:
            return 0
        limit = fields.Datetime.now() - timedelta(days=days)
        old = self.sudo().search(
            [("state", "in", ("resolved", "ignored")), ("write_date", "<", limit)]
        )
        count = len(old)
        old.unlink()
        # Processed webhook events are only the trace of a delivery: same retention.
        self.env["xero.webhook.event"].sudo().search(
            [("state", "in", ("done", "ignored")), ("write_date", "<", limit)]
        ).unlink()
        if count:
            _logger.info(
                "Deleted %s resolved/ignored Xero failures older than %s days", count, days
            )
        return count
