# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The code's shape, checked on the loaded registry: one model, one file for its fields; each
cron on the service that does its work (no delegating shim); Odoo's runner sees every test."""

import ast
import inspect
import os
import re
from types import SimpleNamespace

from odoo import fields, release
from odoo.modules.migration import MigrationManager
from odoo.tests import TransactionCase, tagged

ADDON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE = "casemgr_xero"

# Each cron of the addon and the service (an abstract model, or the model it cleans) whose
# method does the work.
CRON_SERVICES = {
    "ir_cron_xero_export": "xero.export",
    "ir_cron_xero_drift": "xero.drift",
    "ir_cron_xero_payments": "xero.payment.import",
    "ir_cron_xero_failure_cleanup": "xero.failure",
}
# The records whose whole class (fields, computes, buttons) is one file.
ONE_FILE = {
    "xero.connection": "models/xero_connection.py",
    "xero.failure": "models/xero_failure.py",
}
# Models that once carried cron shims delegating to the services.
NO_CRON_ON = ("account.move", "xero.connection", "xero.webhook.event")


def _manifest_version():
    with open(os.path.join(ADDON_DIR, "__manifest__.py")) as f:
        return ast.literal_eval(f.read())["version"]


def _our_classes(model):
    """The addon's own definition classes of ``model`` (not of the mixins it inherits), in the
    registry class's MRO."""
    prefix = f"odoo.addons.{MODULE}."
    return [
        cls
        for cls in type(model).__mro__
        if cls.__module__.startswith(prefix) and vars(cls).get("_name") == model._name
    ]


def _source_file(cls):
    return os.path.relpath(inspect.getsourcefile(cls), ADDON_DIR)


def _cron_method(code):
    match = re.fullmatch(r"\s*model\.(\w+)\(\)\s*", code or "")
    return match and match.group(1)


@tagged("post_install", "-at_install")
class TestXeroStructure(TransactionCase):
    def _field_files(self):
        """{model: {field: {file declaring it}}} for every field the addon declares."""
        found = {}
        for name in self.env.registry:
            model = self.env[name]
            for cls in _our_classes(model):
                for fname, value in vars(cls).items():
                    if isinstance(value, fields.Field):
                        found.setdefault(name, {}).setdefault(fname, set()).add(_source_file(cls))
        return found

    def test_each_model_declares_its_fields_in_one_file(self):
        """All the fields the addon declares on a model, in one file (the model's file)."""
        found = self._field_files()
        self.assertIn("xero.connection", found)
        self.assertIn("xero.failure", found)
        spread = {}
        for name, by_field in found.items():
            files = set().union(*by_field.values())
            if len(files) > 1:
                spread[name] = sorted(files)
        self.assertEqual(spread, {}, "models whose fields are declared in several files")
        self.assertEqual(
            set().union(*found["xero.connection"].values()), {"models/xero_connection.py"}
        )
        self.assertEqual(set().union(*found["xero.failure"].values()), {"models/xero_failure.py"})

    def test_connection_and_failure_are_one_file_each(self):
        """Their methods too: the work lives in services (``xero.oauth``, ``xero.failure.retry``,
        ``xero.export.filing``, ...), the records keep their fields and buttons."""
        for name, path in ONE_FILE.items():
            files = {_source_file(cls) for cls in _our_classes(self.env[name])}
            self.assertEqual(files, {path}, name)

    def test_each_cron_runs_on_the_service_doing_the_work(self):
        for xmlid, service in CRON_SERVICES.items():
            cron = self.env.ref(f"{MODULE}.{xmlid}")
            with self.subTest(cron=xmlid):
                self.assertEqual(cron.model_id.model, service)
                method_name = _cron_method(cron.code)
                self.assertTrue(method_name, cron.code)
                method = getattr(type(self.env[service]), method_name)
                source = inspect.getsource(inspect.unwrap(method))
                body = ast.parse(inspect.cleandoc("\n" + source)).body[0].body
                if (
                    body
                    and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                ):
                    body = body[1:]  # the docstring
                self.assertGreater(len(body), 1, f"{service}.{method_name} only delegates")

    def test_no_cron_shim_on_the_records(self):
        for name in NO_CRON_ON:
            shims = sorted(
                attr
                for cls in _our_classes(self.env[name])
                for attr in vars(cls)
                if attr.startswith("_cron_")
            )
            self.assertEqual(shims, [], f"{name} keeps cron shims")

    def test_the_upgrade_repoints_the_crons_of_1_2_0(self):
        """A database from 1.2.0 keeps its crons (noupdate): the 1.3.0 migration moves them
        from the records' shims onto the services."""
        cr = self.env.cr
        old = {
            "ir_cron_xero_export": ("account.move", "model._cron_xero_export()"),
            "ir_cron_xero_drift": ("xero.connection", "model._cron_xero_drift()"),
            "ir_cron_xero_payments": ("xero.webhook.event", "model._cron_xero_payments()"),
        }
        for xmlid, (model, code) in old.items():
            self.env.ref(f"{MODULE}.{xmlid}").write(
                {"model_id": self.env["ir.model"]._get_id(model), "code": code}
            )
        self.env.flush_all()
        version = _manifest_version()
        node = SimpleNamespace(
            name=MODULE,
            state="to upgrade",
            load_state="to upgrade",
            installed_version=f"{release.serie}.1.2.0",
            load_version=f"{release.serie}.1.2.0",
            data={"version": version},
            manifest={"version": version},
        )
        MigrationManager(cr, [node]).migrate_module(node, "post")
        self.env.invalidate_all()
        for xmlid, (_model, code) in old.items():
            cron = self.env.ref(f"{MODULE}.{xmlid}")
            self.assertEqual(cron.model_id.model, CRON_SERVICES[xmlid], xmlid)
            self.assertEqual(cron.code, code, xmlid)

    def test_odoo_runner_imports_every_test_module(self):
        tests_dir = os.path.join(ADDON_DIR, "tests")
        with open(os.path.join(tests_dir, "__init__.py")) as f:
            imported = set(re.findall(r"^from \. import (\w+)", f.read(), re.M))
        modules = {
            n[:-3] for n in os.listdir(tests_dir) if n.startswith("test_") and n.endswith(".py")
        }
        self.assertEqual(sorted(modules - imported), [])
