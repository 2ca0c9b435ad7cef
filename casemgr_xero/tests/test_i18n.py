# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Every translatable string in the addon's Python code is in i18n/casemgr_xero.pot, and every
code the core reports has its words in the addon (texts.py)."""

import ast
import os
import re
import tempfile

from casemgr_xero_core.mapping import SETTING_CODES
from casemgr_xero_core.results import DOCUMENTS, REASON_PARAMS
from casemgr_xero_core.validation import PROBLEM_PARAMS, WHAT_VALUES

from odoo.tests import BaseCase, TransactionCase, tagged

from .. import texts

ADDON = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POT = os.path.join(ADDON, "i18n", "casemgr_xero.pot")
KEYWORDS = {"_", "_lt"}  # _(…), self.env._(…), _lt(…)


def code_strings(top=ADDON):
    """{string: "file:line"} for every literal first argument of _(), env._() and _lt()."""
    found = {}
    for root, dirs, files in os.walk(top):
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
                    found.setdefault(arg.value, f"{os.path.relpath(path, top)}:{node.lineno}")
    return found


def missing_from_pot(strings):
    ids = pot_msgids()
    return {s: where for s, where in strings.items() if s not in ids}


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
        missing = missing_from_pot(strings)
        self.assertFalse(
            missing,
            "Strings missing from i18n/casemgr_xero.pot (regenerate it, see README):\n"
            + "\n".join(f"  {where}: {s!r}" for s, where in sorted(missing.items())),
        )

    def test_the_check_reports_a_string_the_pot_lacks(self):
        """The check itself: a module with a string the .pot lacks (each way of marking one)
        is reported, a string the .pot has is not."""
        with tempfile.TemporaryDirectory() as top:
            with open(os.path.join(top, "mod.py"), "w", encoding="utf-8") as f:
                f.write(
                    "def f(self, _, _lt):\n"
                    "    self.env._('A string no .pot has, 42.')\n"
                    "    _('Another string no .pot has, 43.')\n"
                    "    _lt('A lazy string no .pot has, 44.')\n"
                    "    self.env._('Send to Xero')\n"
                )
            missing = missing_from_pot(code_strings(top))
        self.assertEqual(
            set(missing),
            {
                "A string no .pot has, 42.",
                "Another string no .pot has, 43.",
                "A lazy string no .pot has, 44.",
            },
        )


@tagged("post_install", "-at_install")
class TestCoreCodesHaveTexts(TransactionCase):
    """The core reports codes and values; each code has its words in texts.py, and each text
    asks only for values the core gives with that code."""

    def _check(self, family, params_by_code, words):
        self.assertEqual(
            set(params_by_code) - set(words), set(), f"{family} codes with no user text"
        )
        self.assertEqual(
            set(words) - set(params_by_code), set(), f"{family} texts for no core code"
        )
        for code, names in params_by_code.items():
            try:
                words[code] % {name: "X" for name in names}
            except (KeyError, TypeError, ValueError) as exc:
                self.fail(f"{family} {code}: {words[code]!r} with {names}: {exc!r}")

    def test_every_core_code_has_a_user_text(self):
        self._check("problem", PROBLEM_PARAMS, texts.problem_texts(self.env))
        settings = dict.fromkeys(SETTING_CODES, ("label", "value"))
        self._check("setting", settings, texts.setting_texts(self.env))
        self._check("reason", REASON_PARAMS, texts.reason_texts(self.env))
        self.assertEqual(set(texts.what_texts(self.env)), set(WHAT_VALUES))
        self.assertEqual(set(texts.document_texts(self.env)), set(DOCUMENTS))
