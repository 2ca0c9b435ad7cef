"""Shared bench plumbing: throwaway database from a template, xero-local + FaultProxy, data, cron.

Environment (all optional): BENCH_ODOO_CONF (default /tmp/bench-odoo.conf), BENCH_TEMPLATE
(a database with `account`, default lead_base; casemgr_xero is installed into the copy if the
template lacks it). PG connection parameters come from the Odoo config file.
"""

import configparser
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "xero_core"))
sys.path.insert(0, str(REPO / "xero_testing"))  # the fault proxy, xero-local (test tools)

# The bound, the checks and the faults live in _checks.py; benches reach them as h.NAME.
from _checks import (  # noqa: E402, F401
    API,
    BOUND_FORMULA,
    FAULTS,
    INVOICES_PER_CALL,
    Checks,
    add_fault_option,
    bound_ratio,
    export_bound,
    inject_fault,
    odoo_invoices,
    xero_checks,
    xero_invoices,
    xl_request,
)
from casemgr_xero_testing.proxy import FaultProxy  # noqa: E402
from casemgr_xero_testing.xero_local import XeroLocal  # noqa: E402

CONF = os.environ.get("BENCH_ODOO_CONF", "/tmp/bench-odoo.conf")
TEMPLATE = os.environ.get("BENCH_TEMPLATE", "lead_base")


def _pg_env():
    cp = configparser.ConfigParser()
    cp.read(CONF)
    o = cp["options"]
    env = dict(os.environ)
    env.update(
        PGHOST=o.get("db_host", "127.0.0.1"),
        PGPORT=o.get("db_port", "5432"),
        PGUSER=o.get("db_user", "odoo"),
    )
    return env


@contextmanager
def throwaway_db(name, template=None):
    """A copy of ``template`` (default: the bench template), dropped afterwards."""
    db = f"bench_{name}_{os.getpid()}"
    env = _pg_env()
    subprocess.run(["createdb", "-T", template or TEMPLATE, db], check=True, env=env)
    try:
        state = subprocess.run(
            ["psql", "-tAc", "SELECT state FROM ir_module_module WHERE name='casemgr_xero'", db],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if state != "installed":
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "odoo",
                    "-c",
                    CONF,
                    "-d",
                    db,
                    "-i",
                    "casemgr_xero",
                    "--stop-after-init",
                    "--no-http",
                    "--max-cron-threads=0",
                    "--addons-path",
                    f"{REPO},{_odoo_addons()}",
                ],
                check=True,
                env=dict(env, PYTHONPATH=str(REPO / "xero_core")),
                stdout=subprocess.DEVNULL,
            )
        yield db
    finally:
        subprocess.run(["dropdb", "--if-exists", "--force", db], env=env, check=False)


def _odoo_addons():
    import odoo.addons

    return ",".join(os.path.realpath(p) for p in odoo.addons.__path__)


def odoo_registry(db):
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(
        ["-c", CONF, "--log-level", "warn", "--addons-path", f"{REPO},{_odoo_addons()}"]
    )
    return Registry(db)


def env_of(cr):
    from odoo import SUPERUSER_ID, api

    return api.Environment(cr, SUPERUSER_ID, {})


@contextmanager
def peer():
    with XeroLocal() as xl:
        proxy = FaultProxy(xl.url, tax_maths=True)
        try:
            yield xl, proxy
        finally:
            proxy.stop()


def setup_connection(registry, xl, proxy):
    with registry.cursor() as cr:
        env = env_of(cr)
        company = env.ref("base.main_company")
        base = proxy.url
        conn = env["xero.connection"].create(
            {
                "name": "Bench",
                "company_id": company.id,
                "client_id": "C",
                "client_secret": "S",
                "api_url": base + API,
                "connections_url": base + "/connections",
                "token_url": base + "/connect/token",
                "authorize_url": base + "/authorize",
                "revocation_url": base + "/connect/revocation",
            }
        )
        conn.sudo().write(
            {
                "tenant_id": xl.tenant_id(),
                "tenant_name": "Bench",
                "state": "connected",
                "access_token": "A",
                "refresh_token": "R",
                "token_expires_at": time.time() + 86400,
            }
        )
        return conn.id


def make_partners(registry, count, prefix="Bench Client"):
    with registry.cursor() as cr:
        return (
            env_of(cr)["res.partner"]
            .create(
                [{"name": f"{prefix} {i:04d}", "email": f"c{i}@example.com"} for i in range(count)]
            )
            .ids
        )


def make_invoices(registry, partner_ids, count, queue=True, chunk=500, company_id=None):
    """Posted (and queued) one-line invoices; partner i % len(partner_ids); in ``company_id``'s
    sale journal when given (else the main company's)."""
    from odoo import Command

    ids = []
    for start in range(0, count, chunk):
        with registry.cursor() as cr:
            env = env_of(cr)
            domain = [("type", "=", "sale")]
            company = {}
            if company_id:
                env = env(context={"allowed_company_ids": [company_id]})
                domain.append(("company_id", "=", company_id))
                company = {"company_id": company_id}
            journal = env["account.journal"].search(domain, limit=1)
            moves = env["account.move"].create(
                [
                    {
                        **company,
                        "move_type": "out_invoice",
                        "journal_id": journal.id,
                        "partner_id": partner_ids[i % len(partner_ids)],
                        "invoice_date": "2019-01-01",
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": f"Fees {i}",
                                    "quantity": 1,
                                    "price_unit": 100.0 + i % 97,
                                    "tax_ids": [Command.clear()],
                                }
                            )
                        ],
                    }
                    for i in range(start, min(count, start + chunk))
                ]
            )
            moves.action_post()
            if queue:
                moves._xero_queue()
            ids += moves.ids
    return ids


def pending(registry):
    with registry.cursor() as cr:
        cr.execute("SELECT count(*) FROM account_move WHERE xero_state IN ('queued', 'sending')")
        return cr.fetchone()[0]


def run_cron_until_done(registry, max_wait=900, stats=None):
    """Play Odoo's cron scheduler for the export cron: run it now, and again at the time of the
    next ir.cron.trigger the product itself scheduled (re-trigger, or not_before after a 429).
    The bench never chooses a wait of its own. Returns the number of cron runs.

    ``stats`` (a dict), when given, gets ``queries``: the SQL queries of the export cron's own
    calls only (odoo.sql_db.sql_counter around them), not this loop's bookkeeping."""
    import odoo.sql_db

    runs = 0
    deadline = time.monotonic() + max_wait
    while pending(registry) and time.monotonic() < deadline:
        with registry.cursor() as cr:
            env = env_of(cr)
            cron = env.ref("casemgr_xero.ir_cron_xero_export")
            cr.execute(
                "DELETE FROM ir_cron_trigger "
                "WHERE cron_id = %s AND call_at <= now() at time zone 'utc'",
                [cron.id],
            )
            q0 = odoo.sql_db.sql_counter
            env["xero.export"]._cron_xero_export()
            if stats is not None:
                stats["queries"] = stats.get("queries", 0) + odoo.sql_db.sql_counter - q0
            runs += 1
        with registry.cursor() as cr:
            cr.execute(
                "SELECT min(call_at) - (now() at time zone 'utc') FROM ir_cron_trigger "
                "WHERE cron_id = (SELECT res_id FROM ir_model_data WHERE module='casemgr_xero' "
                "AND name='ir_cron_xero_export')"
            )
            wait = cr.fetchone()[0]
        if wait is not None and wait.total_seconds() > 0 and pending(registry):
            time.sleep(wait.total_seconds())
    return runs


def calls_by_endpoint(proxy):
    out = {}
    for r in proxy.requests:
        key = f"{r.method} {r.path.replace(API, '')}"
        out[key] = out.get(key, 0) + 1
    return out
