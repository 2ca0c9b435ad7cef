# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Every translatable string in the addon's Python code is in i18n/casemgr_xero.pot."""

import ast
import os
import re

from odoo.tests import BaseCase, tagged

ADDON = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POT = os.path.join(ADDON, "i18n", "casemgr_xero.pot")
KEYWORDS = {"_", "_lt"}  # _(…), self.env._(…), _lt(…)


def code_strings():
    """{string: "file:line"} for every literal first argument of _(), env._() and _lt()."""
    found = {}
    for root, dirs, files in os.walk(ADDON):
        dirs[:] = [d for d in dirs if d not in ("tests", "__pycache__", "static")]
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                arg = node.args[0]
                if (
                    fname in KEYWORDS
                    and isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                ):
                    found.setdefault(arg.value, f"{os.path.relpath(path, ADDON)}:{node.lineno}")
    return found


def pot_msgids():
    """The msgids of a .pot file (multi-line ones joined, escapes decoded)."""
    with open(POT, encoding="utf-8") as f:
        text = f.read()
    ids = set()
    for block in re.findall(r'^msgid ((?:".*"\n)+)', text, flags=re.M):
        parts = re.findall(r'^"(.*)"$', block, flags=re.M)
        ids.add(ast.literal_eval('"' + "".join(parts) + '"'))
    return ids


@tagged("post_install", "-at_install")
class TestXeroTranslations(BaseCase):
    def test_every_translatable_string_is_in_the_pot(self):
        strings = code_strings()
        self.assertGreater(len(strings), 50, "the scan found the addon's strings")
        missing = {s: where for s, where in strings.items() if s not in pot_msgids()}
        self.assertFalse(
            missing,
            "Strings missing from i18n/casemgr_xero.pot (regenerate it, see README):\n"
            + "\n".join(f"  {where}: {s!r}" for s, where in sorted(missing.items())),
        )

    def test_the_scan_sees_a_missing_string(self):
        self.assertNotIn("A string no .pot has, 42.", pot_msgids())
        self.assertIn("Send to Xero", code_strings())
