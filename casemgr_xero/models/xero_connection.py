# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One Xero organisation per company: the connection, every field of it, its buttons.

The work is done by services: the grant and its tokens by ``xero.oauth`` (``xero_oauth.py``),
the Xero app shared by connections by ``xero.app``, the payments by ``xero.payment.import``,
the drift report by ``xero.drift``. Token rotation commits on its own (``_xero_detached``).
"""

import secrets
from contextlib import contextmanager

from casemgr_xero_core.endpoints import XeroEndpoints

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from .. import compat
from ..const import OAUTH_CALLBACK_ROUTE, WEBHOOK_CONNECTION_URL
from ..transaction import short_transaction

_DEFAULTS = XeroEndpoints()


@compat.sql_constraints(
    (
        "tenant_uniq",
        "EXCLUDE (tenant_id WITH =) WHERE (active AND tenant_id IS NOT NULL)",
        "This Xero organisation is already connected to another company.",
    ),
    (
        "company_active_uniq",
        "EXCLUDE (company_id WITH =) WHERE (active)",
        "A company can have only one active Xero connection.",
    ),
)
class XeroConnection(models.Model):
    _name = "xero.connection"
    _description = "Xero Connection"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "company_id, id"

    name = fields.Char(required=True, default="Xero", tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        tracking=True,
    )
    auth_type = fields.Selection(
        [
            ("oauth", "Web app (OAuth2 sign-in)"),
            ("custom", "Custom connection (client credentials)"),
        ],
        required=True,
        default="oauth",
        string="Authentication",
    )
    # The Xero app (found or created from the Client ID): its id, secret and webhook key are
    # shared by the connections of the app.
    app_id = fields.Many2one(
        "xero.app",
        string="Xero app",
        index=True,
        ondelete="restrict",
        copy=False,
        help="Set from the Client ID: connections with the same Client ID share the app's "
        "secret, webhook key and webhook URL.",
    )
    client_id = fields.Char(related="app_id.client_id", readonly=False, store=False)
    client_secret = fields.Char(related="app_id.client_secret", readonly=False, store=False)
    access_token = fields.Char(groups="base.group_system", copy=False)
    refresh_token = fields.Char(groups="base.group_system", copy=False)
    token_expires_at = fields.Float(
        groups="base.group_system", copy=False, help="Access token expiry (UNIX time)."
    )
    oauth_state = fields.Char(groups="base.group_system", copy=False)
    tenant_id = fields.Char(string="Xero Tenant ID", copy=False, index=True, tracking=True)
    tenant_name = fields.Char(string="Xero Organisation", copy=False, tracking=True)
    available_tenant_ids = fields.Json(copy=False)
    state = fields.Selection(
        [
            ("draft", "Not connected"),
            ("choose_tenant", "Choose organisation"),
            ("connected", "Connected"),
            ("needs_reconnect", "Needs reconnect"),
        ],
        default="draft",
        required=True,
        copy=False,
        tracking=True,
    )
    last_error = fields.Text(copy=False, readonly=True)
    # Endpoints: Xero's real ones by default; the demo and tests point them at xero-local.
    api_url = fields.Char(string="API URL", required=True, default=_DEFAULTS.api_url)
    connections_url = fields.Char(required=True, default=_DEFAULTS.connections_url)
    token_url = fields.Char(required=True, default=_DEFAULTS.token_url)
    authorize_url = fields.Char(required=True, default=_DEFAULTS.authorize_url)
    revocation_url = fields.Char(required=True, default=_DEFAULTS.revocation_url)
    # Export options
    invoice_status = fields.Selection(
        [("AUTHORISED", "Approved (AUTHORISED)"), ("DRAFT", "Draft")],
        default="AUTHORISED",
        required=True,
        string="Status in Xero",
    )
    invoice_number_prefix = fields.Char(
        help="Prepended to the Odoo invoice number in Xero, e.g. 'CM-'."
    )
    check_numbers = fields.Boolean(
        string="Check numbers before sending",
        help="Look every batch's invoice numbers up in Xero before sending (one more call per "
        "batch): an invoice number already used there by another contact is reported instead "
        "of sent. Useful when another system also sends invoices to this organisation.",
    )
    request_timeout = fields.Integer(
        default=60,
        help="Seconds to wait for Xero's answer. A call that times out is treated as "
        "'outcome unknown': the invoices are looked up in Xero before being sent again.",
    )
    contacts_synced_at = fields.Datetime(
        copy=False, readonly=True, help="Last read of the organisation's contacts."
    )
    redirect_uri = fields.Char(string="Redirect URI", compute="_compute_redirect_uri")
    # Pacing shared by every worker (see _xero_pause_until)
    not_before = fields.Datetime(
        copy=False, readonly=True, help="No Xero call is made before this time (rate limits)."
    )
    # Payments (xero.payment.import) and their webhook
    payments_enabled = fields.Boolean(
        string="Import payments", help="Mirror payments made in Xero as Odoo payments."
    )
    webhook_key = fields.Char(related="app_id.webhook_key", readonly=False, store=False)
    webhook_url = fields.Char(compute="_compute_webhook_url")
    payment_poll_interval = fields.Integer(
        string="Poll interval (minutes)",
        default=10,
        help="How often the payments cron also asks Xero for payments changed since the last "
        "poll (catches anything a webhook missed). 0 = at every run.",
    )
    last_payment_poll = fields.Datetime(copy=False, readonly=True)
    payment_journal_ids = fields.One2many(
        "xero.payment.journal", "connection_id", string="Payment journals"
    )
    default_payment_journal_id = fields.Many2one(
        "account.journal",
        string="Default payment journal",
        compute="_compute_default_payment_journal_id",
        store=True,
        readonly=False,
        precompute=True,
        domain="[('type', '=', 'bank'), ('company_id', '=', company_id)]",
        help="Payments made in Xero to a bank account with no mapping below are registered "
        "in this journal (when its currency is the payment's). Set from the company's bank "
        "journal: the only one, else the first.",
    )
    # The dashboard (xero.failure)
    xero_failure_count = fields.Integer(
        string="Open failures", compute="_compute_xero_failure_count"
    )

    # ------------------------------------------------------------------
    # Computes / constraints
    # ------------------------------------------------------------------
    @api.depends("company_id")
    def _compute_redirect_uri(self):
        for conn in self:
            conn.redirect_uri = conn.get_base_url() + OAUTH_CALLBACK_ROUTE

    @api.depends("company_id", "app_id")
    def _compute_webhook_url(self):
        for conn in self:
            if conn.app_id:
                conn.webhook_url = conn.app_id.webhook_url
            else:
                conn.webhook_url = conn.get_base_url() + WEBHOOK_CONNECTION_URL % (
                    conn.id or "<id>"
                )

    @api.depends("company_id")
    def _compute_default_payment_journal_id(self):
        for conn in self:
            if conn.default_payment_journal_id.company_id == conn.company_id:
                continue
            conn.default_payment_journal_id = (
                self.env["account.journal"]
                .sudo()
                .search(
                    [("type", "=", "bank"), ("company_id", "=", conn.company_id.id)],
                    order="sequence, id",
                    limit=1,
                )
                .id
            )

    @api.depends("company_id")
    def _compute_xero_failure_count(self):
        counts = dict(
            self.env["xero.failure"]._read_group(
                [("connection_id", "in", self.ids), ("state", "in", ("open", "retrying"))],
                ["connection_id"],
                ["__count"],
            )
        )
        for conn in self:
            conn.xero_failure_count = counts.get(conn._origin, 0)

    @api.constrains("api_url", "token_url", "connections_url", "authorize_url")
    def _check_urls(self):
        for conn in self:
            for fname in ("api_url", "token_url", "connections_url", "authorize_url"):
                value = conn[fname] or ""
                if not value.startswith(("https://", "http://")):
                    raise ValidationError(
                        self.env._(
                            "Xero connection %(name)s: field %(field)s must be an http(s) URL.",
                            name=conn.display_name,
                            field=conn._fields[fname].string,
                        )
                    )

    @api.model_create_multi
    def create(self, vals_list):
        App = self.env["xero.app"]
        return super().create([App._xero_connection_vals(v) for v in vals_list])

    def write(self, vals):
        if "client_id" in vals:
            vals = self.env["xero.app"]._xero_connection_vals(vals)
        return super().write(vals)

    # ------------------------------------------------------------------
    # Plain data for the pure layer
    # ------------------------------------------------------------------
    def _xero_endpoints(self):
        self.ensure_one()
        return XeroEndpoints(
            api_url=self.api_url.rstrip("/"),
            connections_url=self.connections_url,
            token_url=self.token_url,
            authorize_url=self.authorize_url,
            revocation_url=self.revocation_url or _DEFAULTS.revocation_url,
        )

    def _xero_credentials(self):
        self.ensure_one()
        conn = self.sudo()
        if not conn.client_id or not conn.client_secret:
            raise UserError(
                self.env._(
                    "Xero connection %(name)s: set the Client ID and the Client Secret first.",
                    name=self.display_name,
                )
            )
        return conn.client_id, conn.client_secret

    @staticmethod
    def _xero_token_from_row(row):
        return {
            "access_token": row["access_token"],
            "refresh_token": row["refresh_token"],
            "expires_at": row["token_expires_at"] or 0.0,
            "token_type": "Bearer",
        }

    @contextmanager
    def _xero_detached(self):
        """Yield this connection, row-locked, in a transaction of its own that commits on exit.

        Tokens and pacing are shared by every worker and must survive the caller's rollback:
        they are read and written here, never in the caller's transaction. NO KEY UPDATE: the
        caller may hold a key-share lock on the row (a foreign key to it from a row it just
        inserted) while it waits for this token; FOR UPDATE would then wait for it forever.
        """
        self.ensure_one()
        self.env.flush_all()
        with short_transaction(self.env.registry) as cr:
            cr.execute("SELECT id FROM xero_connection WHERE id = %s FOR NO KEY UPDATE", [self.id])
            yield self.with_env(self.env(cr=cr, su=True))

    def _xero_client(self):
        """A pure-layer client bound to this connection's tenant and shared token state."""
        return self.env["xero.api"]._xero_client(self)

    # ------------------------------------------------------------------
    # Buttons (the services do the work)
    # ------------------------------------------------------------------
    def action_xero_connect(self):
        """Xero's sign-in (OAuth), or a client-credentials grant for a custom connection."""
        self.ensure_one()
        return self.env["xero.oauth"]._xero_connect(self)

    def action_xero_choose_tenant(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "xero.tenant.select.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_connection_id": self.id},
        }

    def action_xero_test_connection(self):
        self.ensure_one()
        return self.env["xero.api"]._xero_test_connection(self)

    def action_xero_check_mappings(self):
        """Compare account codes, tax types and tracking categories with the organisation."""
        self.ensure_one()
        return self.env["xero.mapping.check"]._xero_check_mappings(self)

    def action_xero_disconnect(self):
        """Revoke the grant at Xero, then forget the tokens (see ``xero.oauth``)."""
        return self.env["xero.oauth"]._xero_disconnect(self)

    def action_xero_generate_webhook_key(self):
        """A random key (for xero-local and the demo; with real Xero, paste Xero's key)."""
        self.ensure_one()
        self.sudo().webhook_key = secrets.token_urlsafe(48)
        return True

    def action_xero_sync_payments(self):
        """Have the payments cron run now and poll Xero whatever the interval says."""
        return self.env["xero.payment.import"]._xero_sync_now(self)

    def action_xero_drift_report(self):
        self.ensure_one()
        return self.env["xero.drift"]._xero_drift_report(self)

    def action_xero_open_failures(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("casemgr_xero.xero_failure_action")
        action["domain"] = [("connection_id", "=", self.id)]
        action["context"] = {"search_default_open": 1}
        return action
