# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import compat

_logger = logging.getLogger(__name__)

RETENTION_PARAM = "casemgr_xero.failure_retention_days"
DEFAULT_RETENTION_DAYS = 30
SUMMARY_LENGTH = 240
RECONNECT_SUMMARY = "Reconnect Xero"

KINDS = [
    ("invoice_export", "Invoice export"),
    ("payment_import", "Payment import"),
    ("contact", "Contact"),
    ("auth", "Authentication / connection"),
    ("mapping", "Mapping"),
    ("drift", "Drift"),
]


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

    def action_xero_retry(self):
        """Run the real flow behind each card again (``xero.failure.retry``)."""
        return self.env["xero.failure.retry"]._xero_retry(self)

    def action_xero_ignore(self):
        self.write({"state": "ignored"})
        return True

    # ------------------------------------------------------------------
    # Auth cards and the reconnect to-dos (the connection calls these)
    # ------------------------------------------------------------------
    def _xero_auth_lost(self, connections):
        """Xero refused the stored grant: file an 'auth' failure on the dashboard and give
        the company's billing administrators a to-do to reconnect (once, not per attempt)."""
        activity_type = self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
        manager_group = self.env.ref("account.group_account_manager")
        for conn in connections:
            message = self.env._(
                "Xero connection %(name)s (%(company)s) must be reconnected: %(error)s",
                name=conn.name,
                company=conn.company_id.name,
                error=conn.last_error or self.env._("Xero refused the stored authorisation."),
            )
            self.env["xero.failure"]._xero_report("auth", conn, message, conn)
            if not activity_type:
                continue
            users = compat.group_users(manager_group).filtered(
                lambda u, c=conn: not u.share and c.company_id in u.company_ids
            )
            already = conn.activity_ids.filtered(
                lambda a: a.activity_type_id == activity_type and a.summary == RECONNECT_SUMMARY
            ).user_id
            for user in users - already:
                conn.activity_schedule(
                    act_type_xmlid="mail.mail_activity_data_todo",
                    summary=RECONNECT_SUMMARY,
                    note=message,
                    user_id=user.id,
                )

    def _xero_auth_restored(self, connections):
        """The connection works again: close its 'auth' failures and reconnect to-dos."""
        for conn in connections.sudo():
            conn.env["xero.failure"]._xero_resolve("auth", conn, conn)
            conn.activity_ids.filtered(lambda a: a.summary == RECONNECT_SUMMARY).action_feedback(
                feedback=self.env._("Reconnected to Xero.")
            )

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
