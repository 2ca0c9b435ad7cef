# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""What must hold on every Odoo series the addon runs on (compat.py names the differences)."""

import ast
import os
from types import SimpleNamespace

from odoo import release
from odoo.modules.migration import MigrationManager
from odoo.tests import TransactionCase, tagged

from .. import compat

ADDON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every uniqueness the addon relies on, as PostgreSQL must hold it: (table, name, kind).
# u = UNIQUE constraint, x = EXCLUDE constraint, i = unique index.
UNIQUES = [
    ("xero_webhook_event", "xero_webhook_event_dedupe_uniq", "u"),  # controller's ON CONFLICT
    ("xero_contact", "xero_contact_partner_uniq", "u"),  # one Xero contact per partner
    ("xero_contact", "xero_contact_contact_uniq", "u"),
    ("xero_app", "xero_app_client_id_uniq", "u"),
    ("xero_connection", "xero_connection_tenant_uniq", "x"),
    ("xero_connection", "xero_connection_company_active_uniq", "x"),
    ("xero_tax_mapping", "xero_tax_mapping_tax_uniq", "u"),
    ("xero_account_mapping", "xero_account_mapping_account_uniq", "u"),
    ("xero_tracking_mapping", "xero_tracking_mapping_plan_uniq", "u"),
    ("account_payment", "account_payment_xero_payment_id_uniq", "i"),  # one payment per Xero's
]


def _manifest():
    with open(os.path.join(ADDON_DIR, "__manifest__.py")) as f:
        return ast.literal_eval(f.read())


@tagged("post_install", "-at_install")
class TestXeroCompat(TransactionCase):
    def test_each_uniqueness_exists_in_postgresql(self):
        """19.0 ignores ``_sql_constraints`` without an error: look in the catalog itself."""
        cr = self.env.cr
        missing = []
        for table, name, kind in UNIQUES:
            if kind == "i":
                cr.execute(
                    """SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                        WHERE c.relname = %s AND i.indisunique
                          AND i.indrelid = %s::regclass""",
                    [name, table],
                )
            else:
                cr.execute(
                    """SELECT 1 FROM pg_constraint
                        WHERE conname = %s AND contype = %s AND conrelid = %s::regclass""",
                    [name, kind, table],
                )
            if not cr.fetchone():
                missing.append(name)
        self.assertEqual(missing, [], f"not in PostgreSQL on Odoo {release.serie}")

    def test_constraint_messages_reach_the_user(self):
        """The model knows the constraint by name (18: _sql_constraints, 19: table objects),
        so a violation is reported with its message, not PostgreSQL's."""
        model = self.env["xero.app"]
        if compat.SERIES < 19:
            names = {name for name, _d, _m in model._sql_constraints}
        else:
            names = {obj.name for obj in model._table_objects.values()}
        self.assertIn("client_id_uniq", names)

    def test_manifest_version_has_no_series_and_odoo_prefixes_its_own(self):
        version = _manifest()["version"]
        self.assertEqual(version.count("."), 2, version)
        module = self.env["ir.module.module"].search([("name", "=", "casemgr_xero")])
        self.assertEqual(module.latest_version, f"{release.serie}.{version}")

    def test_migrations_are_found_and_run_by_odoo(self):
        """Odoo's MigrationManager, as an upgrade from 1.0.0 runs it: the 1.1.0 script gives
        connections from before Xero apps the app of their Client ID; from 1.1.0 on, or from
        the same module version on the previous series, it does not run again."""
        cr = self.env.cr
        company = self.env.company
        conn = self.env["xero.connection"].create({"name": "Old", "company_id": company.id})
        self.env.flush_all()
        cr.execute(
            "ALTER TABLE xero_connection ADD COLUMN client_id varchar, "
            "ADD COLUMN client_secret varchar, ADD COLUMN webhook_key varchar"
        )
        cr.execute(
            "UPDATE xero_connection SET app_id = NULL, client_id = 'MIGRATED-APP', "
            "client_secret = 's', webhook_key = 'k' WHERE id = %s",
            [conn.id],
        )
        version = _manifest()["version"]
        previous_series = f"{compat.SERIES - 1}.0"

        def upgrade_from(installed):
            node = SimpleNamespace(
                name="casemgr_xero",
                state="to upgrade",
                load_state="to upgrade",
                installed_version=installed,
                load_version=installed,
                data={"version": version},
                manifest={"version": version},
            )
            MigrationManager(cr, [node]).migrate_module(node, "post")
            self.env.invalidate_all()
            return conn.app_id

        self.assertFalse(upgrade_from(f"{release.serie}.1.1.0"), "1.1.0 ran again")
        self.assertFalse(upgrade_from(f"{previous_series}.{version}"), "ran on a series upgrade")
        app = upgrade_from(f"{release.serie}.1.0.0")
        self.assertEqual(app.client_id, "MIGRATED-APP")
