# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Connections made before Xero apps existed: one app per Client ID, carrying the secret and
webhook key the connections stored (the old columns are left in place, unused)."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["xero.app"]._xero_migrate_connections()
