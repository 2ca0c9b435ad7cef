# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One Xero organisation per company: the connection, its tokens, OAuth and tenant choice.

Token rotation commits on its own (``_xero_detached``): several workers share one token pair,
and a refresh token is spent the moment Xero answers, whatever the caller's transaction does.
"""

import logging
import secrets
import time
from contextlib import contextmanager

from casemgr_xero_core import oauth
from casemgr_xero_core.endpoints import XeroEndpoints
from casemgr_xero_core.errors import ReconnectRequired, XeroError

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from .. import compat
from ..const import OAUTH_CALLBACK_ROUTE
from ..transaction import short_transaction

_logger = logging.getLogger(__name__)

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
    # client_id, client_secret: the Xero app's (xero_app.py)
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
    xero_attach_pdf = fields.Boolean(
        string="Attach the invoice PDF in Xero",
        help="After export, attach each invoice's PDF in Xero and keep Xero's online-invoice "
        "link on it (two more calls per invoice); a PDF Xero refuses is a card, never a resend.",
    )

    # ------------------------------------------------------------------
    # Computes / constraints
    # ------------------------------------------------------------------
    @api.depends("company_id")
    def _compute_redirect_uri(self):
        for conn in self:
            conn.redirect_uri = conn.get_base_url() + OAUTH_CALLBACK_ROUTE

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

    def _xero_save_token(self, token):
        """Write a token pair on ``self`` (an env whose transaction the caller commits)."""
        reconnected = self.tenant_id and self.state != "connected"
        self.sudo().write(
            {
                "access_token": token["access_token"],
                "refresh_token": token.get("refresh_token") or False,
                "token_expires_at": token.get("expires_at") or time.time() + 1800,
                "state": "connected" if self.tenant_id else self.state,
                "last_error": False,
            }
        )
        if reconnected:
            self.env["xero.failure"]._xero_auth_restored(self)

    def _xero_refresh(self, stale_token=None):
        """Return a valid token, exchanging the refresh token at most once across workers.

        Lock the row in a fresh transaction, re-read the tokens (another worker may already
        have rotated them), refresh only if still stale, store the new pair and commit before
        anyone else can use the old refresh token again.
        """
        self.ensure_one()
        with self._xero_detached() as conn:
            conn.invalidate_recordset()
            current = self._xero_token_from_row(
                {f: conn[f] for f in ("access_token", "refresh_token", "token_expires_at")}
            )
            if oauth.still_valid(current, stale_token):
                return current
            client_id, client_secret = conn._xero_credentials()
            try:
                new = oauth.renew(
                    conn._xero_endpoints(),
                    client_id,
                    client_secret,
                    current,
                    custom=conn.auth_type == "custom",
                )
            except ReconnectRequired as exc:
                conn.write({"state": "needs_reconnect", "last_error": exc.message})
                try:
                    with conn.env.cr.savepoint():
                        conn.env["xero.failure"]._xero_auth_lost(conn)
                except Exception:  # noqa: BLE001 - never lose the state change above
                    _logger.exception("Xero connection %s: needs-reconnect hook failed", conn.id)
                conn.env.cr.commit()
                raise
            conn._xero_save_token(new)
        return new

    def _xero_client(self):
        """A pure-layer client bound to this connection's tenant and shared token state."""
        return self.env["xero.api"]._xero_client(self)

    # ------------------------------------------------------------------
    # OAuth2 authorization-code flow
    # ------------------------------------------------------------------
    def action_xero_connect(self):
        self.ensure_one()
        client_id, _secret = self._xero_credentials()
        if self.auth_type == "custom":
            return self._xero_connect_custom()
        nonce = secrets.token_urlsafe(32)
        self.sudo().oauth_state = nonce
        url = oauth.authorization_url(self._xero_endpoints(), client_id, self.redirect_uri, nonce)
        return {"type": "ir.actions.act_url", "url": url, "target": "self"}

    def _xero_connect_custom(self):
        client_id, client_secret = self._xero_credentials()
        try:
            token = oauth.client_credentials_token(self._xero_endpoints(), client_id, client_secret)
            tenants = oauth.list_connections(self._xero_endpoints(), token["access_token"])
        except XeroError as exc:
            raise UserError(
                self.env._("Xero connection %(name)s: %(msg)s", name=self.display_name, msg=exc)
            ) from exc
        self._xero_save_token(token)
        return self._xero_bind_tenants(tenants)

    def _xero_oauth_complete(self, code):
        """Callback: exchange the code, store the pair, list and bind the organisation."""
        self.ensure_one()
        client_id, client_secret = self._xero_credentials()
        endpoints = self._xero_endpoints()
        token = oauth.exchange_code(endpoints, client_id, client_secret, code, self.redirect_uri)
        self.sudo().oauth_state = False
        self._xero_save_token(token)
        tenants = oauth.list_connections(endpoints, token["access_token"])
        return self._xero_bind_tenants(tenants)

    def _xero_bind_tenants(self, tenants):
        orgs = [
            {"id": t["tenantId"], "name": t.get("tenantName") or t["tenantId"]}
            for t in tenants
            if t.get("tenantType", "ORGANISATION") == "ORGANISATION"
        ]
        if not orgs:
            self.write(
                {
                    "state": "draft",
                    "last_error": self.env._("The grant gives no Xero organisation."),
                }
            )
            return False
        current = [o for o in orgs if o["id"] == self.tenant_id]
        if current or len(orgs) == 1:
            org = (current or orgs)[0]
            self.write(
                {
                    "tenant_id": org["id"],
                    "tenant_name": org["name"],
                    "available_tenant_ids": False,
                    "state": "connected",
                    "last_error": False,
                }
            )
            self.env["xero.failure"]._xero_auth_restored(self)
            return True
        self.write({"available_tenant_ids": orgs, "state": "choose_tenant"})
        return self.action_xero_choose_tenant()

    def action_xero_choose_tenant(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "xero.tenant.select.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_connection_id": self.id},
        }

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------
    def action_xero_test_connection(self):
        self.ensure_one()
        return self.env["xero.api"]._xero_test_connection(self)

    def action_xero_check_mappings(self):
        """Compare account codes, tax types and tracking categories with the organisation."""
        self.ensure_one()
        return self.env["xero.mapping.check"]._xero_check_mappings(self)

    def action_xero_disconnect(self):
        """Revoke the grant at Xero, then forget the tokens. Xero not confirming the revocation
        never keeps a connection connected: the tokens go all the same, and the user is told
        (a sticky warning, and a note in the connection's chatter) to remove the app in Xero."""
        # every call to Xero first, then the writes (no call to Xero under a row lock)
        unrevoked = {conn: conn._xero_revoke_grant() for conn in self.sudo()}
        for conn in self.sudo():
            conn.write(
                {
                    "access_token": False,
                    "refresh_token": False,
                    "token_expires_at": 0.0,
                    "state": "draft",
                }
            )
        notes = []
        for conn, error in unrevoked.items():
            if error is None:
                continue
            note = self.env._(
                "Disconnected from Xero, but Xero did not confirm that it revoked the grant "
                "(%(error)s). The organisation may still list this app under its connected "
                "apps in Xero: disconnect it there.",
                error=error,
            )
            conn.message_post(body=note, message_type="comment", subtype_xmlid="mail.mt_note")
            notes.append(self.env._("%(name)s: %(note)s", name=conn.display_name, note=note))
        if not notes:
            return True
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Disconnect"),
                "message": "\n".join(notes),
                "type": "warning",
                "sticky": True,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _xero_revoke_grant(self):
        """Revoke this connection's grant at Xero (its refresh token: Xero ends every
        organisation's access through it and refuses that token from then on). Returns None
        when revoked or when there is nothing to revoke (a custom connection, no refresh token),
        else why it was not (an ``XeroError`` or ``UserError``)."""
        self.ensure_one()
        conn = self.sudo()
        if conn.auth_type == "custom" or not conn.refresh_token:
            return None
        try:
            client_id, client_secret = conn._xero_credentials()
            oauth.revoke_token(conn._xero_endpoints(), client_id, client_secret, conn.refresh_token)
        except (XeroError, UserError) as exc:
            _logger.warning("Xero connection %s: the grant was not revoked: %s", conn.id, exc)
            return exc
        return None
