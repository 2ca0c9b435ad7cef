# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The crons run on the services doing the work (1.3.0): a database from before keeps its cron
records (noupdate), which called shims on account.move, xero.connection and
xero.webhook.event; point them at the services. A cron someone edited (another code) is left."""

from odoo import SUPERUSER_ID, api

# xmlid: (old model, new model, the method both call)
CRONS = {
    "ir_cron_xero_export": ("account.move", "xero.export", "_cron_xero_export"),
    "ir_cron_xero_drift": ("xero.connection", "xero.drift", "_cron_xero_drift"),
    "ir_cron_xero_payments": ("xero.webhook.event", "xero.payment.import", "_cron_xero_payments"),
}


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    for xmlid, (old_model, new_model, method) in CRONS.items():
        cron = env.ref(f"casemgr_xero.{xmlid}", raise_if_not_found=False)
        if not cron or cron.model_id.model != old_model:
            continue
        if "".join((cron.code or "").split()) != f"model.{method}()":
            continue
        cron.write({"model_id": env["ir.model"]._get_id(new_model)})
