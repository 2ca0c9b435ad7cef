# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Every difference between the Odoo series casemgr_xero runs on (18.0, 19.0), in one place.

Each name below says what differs and the series it starts in; the rest of the addon reads the
same on every series by going through these names. Views, data files and tests are written to
what both series accept (search views: ``<group>`` without ``expand``/``string``; groups set in
Python, not as a field in XML), so they need nothing here.

- SQL constraints: 18.0 reads ``_sql_constraints``; since 19.0 that attribute is ignored (a
  warning, nothing created) and each constraint is a ``models.Constraint`` attribute
  (``sql_constraints``).
- Cron progress: 18.0 ``ir.cron._notify_progress`` (the job's count so far); since 19.0
  ``_commit_progress`` (what is new since the last call), which also commits
  (``cron_progress``).
- Groups of users, actions and menus: 18.0 ``groups_id``; since 19.0 ``group_ids``
  (``GROUPS_FIELD``, ``set_groups``); a group's users: 18.0 ``users``, since 19.0 ``user_ids``
  (``group_users``).
- ``web_read_group``: 18.0 ``(domain, fields, groupby)``; since 19.0 ``(domain, groupby,
  aggregates)`` (``web_read_group_counts``).
- Manifest ``external_dependencies``: both series look PyPI distributions up with
  ``importlib.metadata`` (19.0 first to insist), so they are named as distributions.
- Registry test mode (one cursor serving the test and every "new" cursor): 18.0
  ``Registry.enter_test_mode``; since 19.0 the test case patches the
  registry's ``cursor`` (``BaseCase.registry_enter_test_mode_cls``) and the registry has no such
  method (the tests' ``tests/common.py`` handles it; the addon itself never asks).
- HTTP requests in an ``HttpCase``: 18.0 serves any; since 19.0 only those carrying the test's
  cookie, or all inside ``allow_requests(all_requests=True)`` (``allow_http_requests``): a Xero
  webhook is a plain POST from outside.
- ``odoo`` itself is a namespace package since 19.0 (no ``odoo.__file__``): scripts find its
  addons through ``odoo.__path__``.

The manifest's version carries no series (``1.2.0``): each series prefixes its own, and finds
the migrations under ``migrations/<x.y.z>/`` the same way. The prefork hooks (``hooks.py``)
wrap ``WorkerCron.sleep`` and ``Worker.signal_handler``, unchanged between 18.0 and 19.0
(checked in both series' ``odoo/service/server.py``).

Odoo 20.0 (released September 2026, Python >= 3.12) is not supported yet: no source of it was
at hand to test on. What we expect to touch, from the 19.0 deprecations: ``_notify_progress``
goes (``_commit_progress`` only); ``odoo.osv.expression`` gives way to ``odoo.fields.Domain``;
the ``/xmlrpc`` and ``/jsonrpc`` endpoints go (19.0 logs "scheduled for removal in Odoo 20" on
each call; ``scripts/demo_pay.py`` and the benches use XML-RPC, the addon itself does not); the
Python floor rises to 3.12. Nothing here claims it works.
"""

from odoo import models, release

SERIES = release.version_info[0]

# res.users / ir.actions.* / ir.ui.menu: ``groups_id`` became ``group_ids`` in 19.0.
GROUPS_FIELD = "groups_id" if SERIES < 19 else "group_ids"
# res.groups: ``users`` became ``user_ids`` in 19.0.
GROUP_USERS_FIELD = "users" if SERIES < 19 else "user_ids"


def group_users(group):
    """The users of the ``res.groups`` record ``group``."""
    return group[GROUP_USERS_FIELD]


def sql_constraints(*specs):
    """Class decorator: the model's SQL constraints, ``(name, definition, message)`` each.

    18.0 reads them from ``_sql_constraints``; 19.0 ignores that attribute (it only warns) and
    wants one ``models.Constraint`` attribute per constraint, named ``_<name>``. Either way the
    constraint in PostgreSQL is named ``<table>_<name>`` (``tests/test_compat.py`` finds each in
    the catalog).
    """

    def decorate(cls):
        if SERIES < 19:
            cls._sql_constraints = [*cls.__dict__.get("_sql_constraints", []), *specs]
            return cls
        for name, definition, message in specs:
            constraint = models.Constraint(definition, message)
            setattr(cls, "_" + name, constraint)
            constraint.__set_name__(cls, "_" + name)  # what a class body would have done
        return cls

    return decorate


def cron_progress(env, done, remaining):
    """Tell ``ir.cron`` how far the running job got (nothing outside a cron job).

    18.0 ``_notify_progress`` writes the figures; 19.0 ``_commit_progress`` writes them and
    commits. Callers call it where the transaction policy commits anyway (after a batch's
    results), so both series commit at the same points.
    """
    cron = env["ir.cron"]
    if SERIES < 19:
        cron._notify_progress(done=done, remaining=remaining)
    elif progress_id := env.context.get("ir_cron_progress_id"):  # outside a job 19 would commit
        # 19 adds what it is given to the job's count: give it what is new since the last call.
        reported = env["ir.cron.progress"].sudo().browse(progress_id).done
        cron._commit_progress(max(done - reported, 0), remaining=remaining)


def set_groups(record, group_xmlids):
    """Give an action (or menu) the groups ``group_xmlids``; returns True (XML ``<function>``)."""
    groups = [record.env.ref(xmlid).id for xmlid in group_xmlids]
    record.write({GROUPS_FIELD: [(6, 0, groups)]})
    return True


def web_read_group_counts(model, domain, field):
    """``web_read_group`` by ``field`` (as a kanban's columns): ``[(value, count)]`` in its
    order, empty columns included. 18.0 counts in ``<field>_count``; 19.0 in ``__count``, and
    adds the empty columns (``group_expand``) when asked as its kanban view asks."""
    if SERIES < 19:
        groups = model.web_read_group(domain, [field], [field])["groups"]
        return [(g[field], g[f"{field}_count"]) for g in groups]
    kanban = model.with_context(read_group_expand=True)
    groups = kanban.web_read_group(domain, [field], ["__count"])["groups"]
    return [(g[field], g["__count"]) for g in groups]


def let_threads_open_test_cursors(case):
    """Let other threads open the test's cursors (``registry.cursor()`` in test mode) during
    the test ``case`` (from its ``setUp``): 18.0 takes the test lock only for such cursors;
    since 19.0 the test's own thread holds it for the whole test unless released
    (``odoo.tests.common.release_test_lock``)."""
    if SERIES >= 19:
        from odoo.tests.common import release_test_lock  # noqa: PLC0415 - tests only

        case.enterContext(release_test_lock())


def allow_http_requests(case):
    """Let the Odoo server of the ``HttpCase`` ``case`` serve requests made without its cookie
    (a webhook POSTed as Xero would), for the rest of the test (from its ``setUp``)."""
    if SERIES >= 19:
        case.enterContext(case.allow_requests(all_requests=True))
