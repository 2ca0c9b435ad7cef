# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""What one Xero app shares between the organisations it connects: its client id and secret,
its webhook signing key and its one webhook delivery URL.

Xero configures webhooks per *app*: one delivery URL, one key, and the events of every
organisation connected to the app, each carrying its ``tenantId``. Every connection of the app
(one per company) therefore shows the same URL and the same key; the controller checks the
signature with the app's key and routes each event to the connection bound to its tenant.

A connection finds (or creates) its app from its Client ID: the connection's ``client_id``,
``client_secret`` and ``webhook_key`` are the app's (set once, shared), related fields of the
connection (``xero_connection.py``), resolved by ``_xero_connection_vals``.
"""

import logging
import secrets

from odoo import api, fields, models
from odoo.tools import SQL

from .. import compat
from ..const import WEBHOOK_APP_URL

_logger = logging.getLogger(__name__)


@compat.sql_constraints(
    ("client_id_uniq", "UNIQUE (client_id)", "A Xero app with this Client ID already exists."),
)
class XeroApp(models.Model):
    _name = "xero.app"
    _description = "Xero App"
    _order = "id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    client_id = fields.Char(string="Client ID", required=True, copy=False, index=True)
    client_secret = fields.Char(groups="base.group_system", copy=False)
    webhook_key = fields.Char(
        groups="base.group_system",
        copy=False,
        help="The webhook key Xero shows for this app (developer.xero.com > your app > "
        "Webhooks): every organisation connected through the app signs with it.",
    )
    webhook_url = fields.Char(
        compute="_compute_webhook_url",
        help="Register this URL once, as the app's webhook delivery URL in Xero.",
    )
    connection_ids = fields.One2many("xero.connection", "app_id", string="Connections")

    def _compute_webhook_url(self):
        for app in self:
            app.webhook_url = app.get_base_url() + WEBHOOK_APP_URL % (app.id or "<id>")

    @api.model
    def _xero_for_client_id(self, client_id):
        """The app of ``client_id`` (created on first use); empty for an empty id."""
        client_id = (client_id or "").strip()
        if not client_id:
            return self.browse()
        App = self.sudo().with_context(active_test=False)
        app = App.search([("client_id", "=", client_id)], limit=1)
        return app or App.create({"name": client_id, "client_id": client_id})

    def action_xero_generate_webhook_key(self):
        """A random key (for xero-local and the demo; with real Xero, paste Xero's key)."""
        for app in self.sudo():
            app.webhook_key = secrets.token_urlsafe(48)
        return True

    @api.model
    def _xero_connection_vals(self, vals):
        """A connection's values with its ``client_id`` resolved to ``app_id``; never clear a
        shared secret/key with an empty value."""
        vals = dict(vals)
        if "client_id" in vals:
            vals["app_id"] = self._xero_for_client_id(vals.pop("client_id")).id
        for fname in ("client_secret", "webhook_key"):
            if fname in vals and not vals[fname] and "app_id" in vals:
                vals.pop(fname)  # a new connection of an existing app keeps its values
        return vals

    @api.model
    def _xero_migrate_connections(self):
        """Give every connection that has none the app of its Client ID, carrying over the
        secret and webhook key the connection stored itself before apps existed (run by the
        18.0.1.1.0 migration; a no-op on a database without those columns)."""
        cr = self.env.cr
        cr.execute(
            """
            SELECT column_name FROM information_schema.columns
             WHERE table_name = 'xero_connection'
               AND column_name IN ('client_id', 'client_secret', 'webhook_key')
            """
        )
        columns = {r[0] for r in cr.fetchall()}
        if "client_id" not in columns:
            return 0
        secret = SQL.identifier("client_secret") if "client_secret" in columns else SQL("NULL")
        key = SQL.identifier("webhook_key") if "webhook_key" in columns else SQL("NULL")
        cr.execute(
            SQL(
                """
                SELECT id, client_id, %s, %s
                  FROM xero_connection
                 WHERE app_id IS NULL AND COALESCE(client_id, '') != ''
                 ORDER BY id
                """,
                secret,
                key,
            )
        )
        rows = cr.fetchall()
        for conn_id, client_id, client_secret, webhook_key in rows:
            app = self._xero_for_client_id(client_id)
            vals = {}
            if client_secret and not app.client_secret:
                vals["client_secret"] = client_secret
            if webhook_key and not app.webhook_key:
                vals["webhook_key"] = webhook_key
            if vals:
                app.write(vals)
            cr.execute("UPDATE xero_connection SET app_id = %s WHERE id = %s", [app.id, conn_id])
            _logger.info("Xero connection %s now uses Xero app %s", conn_id, app.id)
        # The secrets now live on the app only (a neutralized copy clears them there).
        for column in ("client_secret", "webhook_key"):
            if column in columns:
                cr.execute(SQL("UPDATE xero_connection SET %s = NULL", SQL.identifier(column)))
        return len(rows)
