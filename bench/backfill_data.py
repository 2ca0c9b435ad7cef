"""The backfill's books: N posted customer invoices for C customers of one company, in several
currencies and tax rates, built once into a template database and reused between runs.

The template is ``casemgr_xero_backfill_<major>_<N>_<C>``, made from the bench template
(``bench/run``: account + casemgr_xero) and keyed by the content (sha1) of this file and of the
addon: its key is the database's COMMENT; a run whose key differs builds it again. Building it:

- one seed invoice per customer (min(N, C) of them) through the ORM, posted as a user would
  post them: 1 to 3 lines, three sales taxes (15 %, 5 %, exempt), the company's currency for
  three in five, EUR / GBP / AUD for the others, dated over one year (2025);
- the other N - C invoices copied from the seeds in SQL (``account_move``, ``account_move_line``
  and the many2many tables of their lines), numbered on in the journal's own sequence (the
  seeds' prefix, ``sequence_number`` on), each copy keeping its seed's customer, lines, taxes,
  currency and rate: the 50,000 take seconds instead of the ORM's ~20 ms each.

Nothing here is timed by the bench. ``TAXES`` maps each tax to the Xero tax type the bench maps
it to (and the rate its proxy computes Xero's tax with).
"""

import hashlib
import os
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import _harness as h

# (name, percent, Xero tax type)
TAXES = (
    ("Backfill sales 15%", 15.0, "OUTPUT2"),
    ("Backfill sales 5%", 5.0, "OUTPUT"),
    ("Backfill exempt 0%", 0.0, "EXEMPTOUTPUT"),
)
# (code, rate against the company currency); a seed i uses CURRENCIES[i % 5 - 2] when i % 5 >= 2
CURRENCIES = (("EUR", 0.92), ("GBP", 0.79), ("AUD", 1.52))
CUSTOMER = "Backfill Customer"
SEED_CHUNK = 250


def _key(invoices, customers):
    sha = hashlib.sha1(f"{invoices} {customers}".encode())
    sha.update(Path(__file__).read_bytes())
    addon = h.REPO / "casemgr_xero"
    for path in sorted(addon.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            sha.update(str(path.relative_to(addon)).encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()


def _psql(sql, db="postgres"):
    out = subprocess.run(
        ["psql", "-XtAq", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
        env=h._pg_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def template_name(invoices, customers):
    import odoo.release

    return f"casemgr_xero_backfill_{odoo.release.version_info[0]}_{invoices}_{customers}"


def ensure_template(invoices, customers, log=print):
    """The template's name, built first when missing or keyed otherwise; (name, seconds spent
    building it or None)."""
    name = template_name(invoices, customers)
    key = _key(invoices, customers)
    have = _psql(
        f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{name}'"
    )
    if have == key:
        return name, None
    t0 = time.monotonic()
    log(f"building template {name} ({invoices} invoices, {customers} customers; key {key[:12]})")
    tmp = f"{name}_build"
    env = h._pg_env()
    for db in (tmp, name):
        subprocess.run(["dropdb", "--if-exists", "--force", db], env=env, check=True)
    subprocess.run(["createdb", "-T", h.TEMPLATE, tmp], env=env, check=True)
    registry = h.odoo_registry(tmp)
    seeds = min(invoices, customers)
    _seed(registry, customers, seeds, log)
    with registry.cursor() as cr:
        _clone(cr, invoices, seeds)
    _close(tmp)
    _psql("VACUUM ANALYZE", db=tmp)
    _psql(f'ALTER DATABASE "{tmp}" RENAME TO "{name}"')
    _psql(f"COMMENT ON DATABASE \"{name}\" IS '{key}'")
    return name, time.monotonic() - t0


def _close(db):
    """Forget this process's registry and connections of ``db`` (it is renamed or copied)."""
    import odoo.sql_db
    from odoo.modules.registry import Registry

    Registry.delete(db)
    odoo.sql_db.close_db(db)


def _seed(registry, customers, seeds, log):
    from odoo import Command

    ctx = {"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True}
    with registry.cursor() as cr:
        env = h.env_of(cr)(context=ctx)
        company = env.ref("base.main_company")
        currencies = []
        for code, rate in CURRENCIES:
            cur = env.ref(f"base.{code}")
            if cur == company.currency_id:
                continue
            cur.active = True
            env["res.currency.rate"].create(
                {
                    "name": "2025-01-01",
                    "rate": rate,
                    "currency_id": cur.id,
                    "company_id": company.id,
                }
            )
            currencies.append(cur.id)
        taxes = (
            env["account.tax"]
            .create(
                [
                    {
                        "name": name,
                        "amount": percent,
                        "amount_type": "percent",
                        "type_tax_use": "sale",
                        "company_id": company.id,
                    }
                    for name, percent, _type in TAXES
                ]
            )
            .ids
        )
        partners = (
            env["res.partner"]
            .create(
                [
                    {"name": f"{CUSTOMER} {i:05d}", "email": f"customer{i}@example.com"}
                    for i in range(customers)
                ]
            )
            .ids
        )
        journal = env["account.journal"].search(
            [("type", "=", "sale"), ("company_id", "=", company.id)], limit=1
        )
        journal_id = journal.id
    first = date(2025, 1, 1)
    for start in range(0, seeds, SEED_CHUNK):
        with registry.cursor() as cr:
            env = h.env_of(cr)(context=ctx)
            vals = []
            for i in range(start, min(seeds, start + SEED_CHUNK)):
                currency = {"currency_id": currencies[i % 5 - 2]} if i % 5 >= 2 else {}
                vals.append(
                    {
                        "move_type": "out_invoice",
                        "journal_id": journal_id,
                        "partner_id": partners[i],
                        "invoice_date": first + timedelta(days=(i * 7) % 365),
                        "ref": f"Matter {i:05d}",
                        **currency,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": f"Professional services, part {j + 1}",
                                    "quantity": 1 + (i + j) % 4,
                                    "price_unit": 80 + (i * 7 + j * 13) % 400,
                                    "tax_ids": [Command.set([taxes[(i + j) % len(taxes)]])],
                                }
                            )
                            for j in range(1 + i % 3)
                        ],
                    }
                )
            env["account.move"].create(vals).action_post()
        log(f"  {min(seeds, start + SEED_CHUNK)} of {seeds} seed invoices posted (ORM)")


def _columns(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        [table],
    )
    return [r[0] for r in cr.fetchall()]


def _insert_copy(cr, table, alias, source_sql, overrides):
    cols = _columns(cr, table)
    select = ", ".join(overrides.get(c, f"{alias}.{c}") for c in cols)
    cr.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} {source_sql}")  # noqa: S608
    return cr.rowcount


def _clone(cr, invoices, seeds):
    """Copy the seeds (posted out_invoices, by sequence number) into invoices - seeds more."""
    if invoices <= seeds:
        return
    cr.execute(
        "CREATE TEMP TABLE bf_seed AS SELECT id, name, sequence_prefix, "
        "row_number() OVER (ORDER BY sequence_number, id) AS rn FROM account_move "
        "WHERE move_type = 'out_invoice' AND state = 'posted'"
    )
    cr.execute(
        "SELECT count(*), min(sequence_prefix), max(length(name) - length(sequence_prefix)) "
        "FROM bf_seed"
    )
    count, _prefix, width = cr.fetchone()
    assert count == seeds, (count, seeds)
    copies = -(-(invoices - seeds) // seeds)
    width = max(width, len(str(invoices)))
    cr.execute(
        "CREATE TEMP TABLE bf_move AS SELECT s.id AS seed_id, s.name AS seed_name, "
        "nextval('account_move_id_seq') AS new_id, n AS num, "
        "s.sequence_prefix || lpad(n::text, %s, '0') AS new_name "
        "FROM bf_seed s CROSS JOIN generate_series(1, %s) k "
        "CROSS JOIN LATERAL (SELECT %s * k + s.rn AS n) x WHERE n <= %s",
        [width, copies, seeds, invoices],
    )
    moves = _insert_copy(
        cr,
        "account_move",
        "m",
        "FROM bf_move b JOIN account_move m ON m.id = b.seed_id",
        {
            "id": "b.new_id",
            "name": "b.new_name",
            "sequence_number": "b.num",
            "payment_reference": "CASE WHEN m.payment_reference = m.name THEN b.new_name "
            "ELSE m.payment_reference END",
            "access_token": "NULL",
        },
    )
    cr.execute(
        "CREATE TEMP TABLE bf_line AS SELECT l.id AS seed_line, b.new_id AS move_id, "
        "b.new_name, b.seed_name, nextval('account_move_line_id_seq') AS new_id "
        "FROM bf_move b JOIN account_move_line l ON l.move_id = b.seed_id"
    )
    _insert_copy(
        cr,
        "account_move_line",
        "l",
        "FROM bf_line b JOIN account_move_line l ON l.id = b.seed_line",
        {
            "id": "b.new_id",
            "move_id": "b.move_id",
            "move_name": "b.new_name",
            "name": "CASE WHEN l.name = b.seed_name THEN b.new_name ELSE l.name END",
        },
    )
    # Many2many tables of the lines (taxes, tax tags, ...): two columns, one a line.
    cr.execute(
        """
        SELECT c.conrelid::regclass::text, a.attname
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.contype = 'f' AND c.confrelid = 'account_move_line'::regclass
           AND c.conrelid <> 'account_move_line'::regclass
           AND (SELECT count(*) FROM pg_attribute x
                 WHERE x.attrelid = c.conrelid AND x.attnum > 0 AND NOT x.attisdropped) = 2
        """
    )
    for table, column in cr.fetchall():
        _insert_copy(
            cr,
            table,
            "r",
            f"FROM bf_line b JOIN {table} r ON r.{column} = b.seed_line",
            {column: "b.new_id"},
        )
    assert moves == invoices - seeds, (moves, invoices, seeds)


def main():  # python bench/backfill_data.py N C: build (or find) the template
    import sys

    name, took = ensure_template(int(sys.argv[1]), int(sys.argv[2]))
    print(name, "reused" if took is None else f"built in {took:.0f}s", os.getpid())


if __name__ == "__main__":
    main()
