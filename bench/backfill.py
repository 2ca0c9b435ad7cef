"""A firm's first day: a year of posted invoices exported to one Xero organisation at Xero's
real limits, by the product as it runs in production.

    bench/run backfill [--invoices 50000 --customers 2000 --per-minute 60 --day-limit 5000
                        --day-seconds 86400 --workers 2 --cron-threads 1 --min-ratio 0.9
                        --max-minutes 90 --inject-fault F]

- The books (``backfill_data``): N posted invoices for C customers of one company, three tax
  rates, four currencies; built once into a template database, reused (not timed).
- Xero: xero-local behind the project's proxy, which enforces Xero's limits for the
  organisation (``--per-minute`` calls in any sliding minute, ``--day-limit`` in any sliding day,
  5 in flight; 429 + Retry-After beyond them) and does Xero's tax maths. ``--day-limit 1000`` is
  the free Starter tier; ``--day-seconds`` shortens the proxy's day (and the bound's) so that a
  quick run sees the day's pause end and the export resume.
- Odoo: a prefork server (``--workers`` HTTP workers, ``--cron-threads`` cron workers); an
  accountant queues the whole year at once through *Invoicing > Xero > Export invoices* (the
  wizard, over XML-RPC); the server's own export cron does the rest. The bench never runs a
  cron itself. While it runs the bench prints, every 60 s, what the accountant sees: the counts
  of the invoice list's filters *In Xero*, *Queued for Xero* and *Xero failed* (XML-RPC
  ``search_count`` as that user, the numbers the list shows beside those filters).

Printed: the ratio (``_harness.BOUND_FORMULA``), the calls, Odoo's time per invoice (CPU of the
exporting cron worker processes, and the wall time neither paused for Xero's limits nor in a
Xero call), the exporting processes' peak RSS (VmHWM), then the checks
(``_harness.xero_checks``; the ratio <= 1 and >= ``--min-ratio``; the run not timed out) and one
``BACKFILL …`` line; exit 1 when a check fails.
"""

import argparse
import atexit
import json
import os
import sys
import threading
import time
import xmlrpc.client
from types import SimpleNamespace

import _harness as h
import backfill_data
from _servers import Server, claim_holders, vm_hwm_kb

LOG = h.REPO / ".cache" / "bench-backfill-odoo.log"
CALLS = h.REPO / ".cache" / "bench-backfill-calls.log"  # every Xero call, for reading afterwards
LOGIN, PASSWORD = "accountant", "bench-backfill-accountant"
FILTERS = {  # the invoice list's filters (views/account_move_views.xml) and their domains
    "In Xero": [("xero_state", "=", "sent")],
    "Queued for Xero": [("xero_state", "in", ("queued", "sending"))],
    "Xero failed": [("xero_state", "=", "failed")],
}
INVOICES = h.API + "/Invoices"
TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cpu_seconds(pid):
    """utime + stime of ``pid`` (seconds), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def setup(registry, xl, proxy):
    """The connection, its tax mappings, and the accountant; the invoices' ids. The daily drift
    check is next due in a day, as on the day a connection is made (installed long before, the
    template's would be due at once: 50 invoices sent, it would spend the export's budget
    comparing them)."""
    from odoo.addons.casemgr_xero import compat

    conn_id = h.setup_connection(registry, xl, proxy)
    with registry.cursor() as cr:
        env = h.env_of(cr)
        company = env.ref("base.main_company")
        for name, _percent, tax_type in backfill_data.TAXES:
            tax = env["account.tax"].search(
                [("name", "=", name), ("company_id", "=", company.id)], limit=1
            )
            env["xero.tax.mapping"].create(
                {"connection_id": conn_id, "tax_id": tax.id, "xero_tax_type": tax_type}
            )
        env["res.users"].create(
            {
                "name": "Backfill Accountant",
                "login": LOGIN,
                "password": PASSWORD,
                "company_id": company.id,
                "company_ids": [(6, 0, [company.id])],
                compat.GROUPS_FIELD: [
                    (
                        6,
                        0,
                        [
                            env.ref("account.group_account_invoice").id,
                            env.ref("base.group_user").id,
                        ],
                    )
                ],
            }
        )
        drift = env.ref("casemgr_xero.ir_cron_xero_drift")
        cr.execute(
            "UPDATE ir_cron SET nextcall = (now() at time zone 'utc') + interval '1 day' "
            "WHERE id = %s",
            [drift.id],
        )
        cr.execute(
            "SELECT id FROM account_move WHERE move_type = 'out_invoice' AND state = 'posted'"
        )
        return company.id, [r[0] for r in cr.fetchall()]


def main():  # noqa: C901 - one scripted scenario, read top to bottom
    ap = argparse.ArgumentParser()
    ap.add_argument("--invoices", type=int, default=50000)
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--per-minute", type=int, default=60)
    ap.add_argument("--day-limit", type=int, default=5000)
    ap.add_argument("--day-seconds", type=float, default=86400)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cron-threads", type=int, default=1)
    ap.add_argument("--min-ratio", type=float, default=0.9)
    ap.add_argument("--max-minutes", type=float, default=90)
    h.add_fault_option(ap)
    args = ap.parse_args()
    checks = h.Checks()
    fault = None
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_text("")
    template, built = backfill_data.ensure_template(args.invoices, args.customers, log)
    log(f"template {template}: " + ("reused" if built is None else f"built in {built:.0f}s"))
    with h.throwaway_db("backfill", template) as db, h.peer() as (xl, proxy):
        registry = h.odoo_registry(db)
        company_id, move_ids = setup(registry, xl, proxy)
        tenant = xl.tenant_id()
        proxy.reset()
        proxy.tax_rates = {t: p for _n, p, t in backfill_data.TAXES}
        proxy.tenant_limits(args.per_minute, args.day_limit, 5, day_seconds=args.day_seconds)
        server = Server(
            db, SimpleNamespace(workers=args.workers, cron_threads=args.cron_threads), log=LOG
        )
        atexit.register(server.stop, 30)  # on any exit of this bench
        server.start()
        log(
            f"Odoo prefork on 127.0.0.1:{server.http_port}: {args.workers} HTTP workers, "
            f"{args.cron_threads} cron workers (log {LOG})"
        )
        url = f"http://127.0.0.1:{server.http_port}"
        uid = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common").authenticate(
            db, LOGIN, PASSWORD, {}
        )
        models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

        def call(model, method, *a, **kw):
            return models.execute_kw(db, uid, PASSWORD, model, method, list(a), kw)

        def what_the_accountant_sees():
            return {
                name: call("account.move", "search_count", [("move_type", "=", "out_invoice")] + d)
                for name, d in FILTERS.items()
            }

        def db_rows(sql, params=()):
            with registry.cursor() as cr:
                cr.execute(sql, params)
                return cr.fetchall()

        # --- the accountant queues the year: Invoicing > Xero > Export invoices
        t_queue = time.monotonic()
        wizard = call(
            "xero.export.wizard",
            "create",
            {"company_id": company_id, "date_from": "2025-01-01", "date_to": "2025-12-31"},
        )
        call("xero.export.wizard", "action_xero_export", [wizard])
        t_queued = time.monotonic() - t_queue
        log(f"queued through the export wizard in {t_queued:.1f}s: {what_the_accountant_sees()}")

        # --- sampler: paused for limits / in a Xero call / neither; exporters' CPU and VmHWM
        stop = threading.Event()
        samples = []  # (monotonic, kind)
        cpu = {}  # pid -> (first seen, last seen) CPU seconds, of the exporting processes
        hwm = {}
        exporters = set()

        def sampler():
            while not stop.wait(0.5):
                try:
                    (paused,) = db_rows(
                        "SELECT coalesce(not_before > (now() at time zone 'utc'), false) "
                        "FROM xero_connection"
                    )[0]
                    exporters.update(claim_holders(db_rows, server))
                except Exception:  # noqa: BLE001,S112 - the database is shared with the run
                    continue
                inflight = any(not r.ended for r in list(proxy.requests))
                samples.append(
                    (time.monotonic(), "in_call" if inflight else "paused" if paused else "other")
                )
                for pid in server.children():
                    hwm[pid] = max(hwm.get(pid, 0), vm_hwm_kb(pid))
                    now = cpu_seconds(pid)
                    if now:
                        cpu[pid] = (cpu.get(pid, (now, now))[0], now)

        # Each child's CPU from the moment the export starts (workers that served the queueing
        # request did that work before).
        for pid in server.children():
            cpu[pid] = (cpu_seconds(pid),) * 2
        threading.Thread(target=sampler, daemon=True).start()
        t_run = time.monotonic()
        deadline = t_run + args.max_minutes * 60
        next_print = t_run
        while True:
            (left,) = db_rows(
                "SELECT count(*) FROM account_move WHERE xero_state IN ('queued', 'sending')"
            )[0]
            now = time.monotonic()
            if now >= next_print or not left:
                seen = what_the_accountant_sees()
                puts = sum(1 for r in list(proxy.requests) if r.path == INVOICES)
                log(
                    f"[{(now - t_run) / 60:5.1f} min] the accountant's invoice list: "
                    + ", ".join(f"{k} {v}" for k, v in seen.items())
                    + f" (PUT /Invoices so far {puts})"
                )
                next_print = now + 60
            if not left or now >= deadline:
                break
            time.sleep(2)
        timed_out = bool(left)
        stop.set()
        for pid in server.children():
            hwm[pid] = max(hwm.get(pid, 0), vm_hwm_kb(pid))
        server.stop()

        reqs = list(proxy.requests)
        with open(CALLS, "w") as f:
            f.write("# seconds since the first call: method path action (answered after)\n")
            t0 = min((r.started for r in reqs), default=0.0)
            f.writelines(
                f"{r.started - t0:9.2f} {r.method} {r.path} {r.action} "
                f"({(r.ended or r.started) - r.started:.2f}s, emulator {r.upstream_s:.2f}s)\n"
                for r in sorted(reqs, key=lambda r: r.started)
            )
        by_ep = h.calls_by_endpoint(proxy)
        refused = {}
        for r in reqs:
            if r.action.startswith("429"):
                refused[r.action] = refused.get(r.action, 0) + 1
        first_call = min((r.started for r in reqs), default=0.0)
        last_answer = max((r.ended or r.started for r in reqs), default=0.0)
        if args.inject_fault:  # after the server stopped: nothing can repair it
            fault = h.inject_fault(args.inject_fault, registry, xl, tenant, move_ids)
        xero = xl.invoices()  # one read of the emulator's store (its paged list copies it all)
        rows = h.odoo_invoices(registry, move_ids)
        h.xero_checks(checks, xero, rows)
        live = [i for i in xero if i.get("Status") not in ("DELETED", "VOIDED")]
        numbers = [i.get("InvoiceNumber") for i in live]
        duplicates = len(numbers) - len(set(numbers))
        missing = len({r[0] for r in rows} - set(numbers))
        sent = sum(1 for r in rows if r[2] == "sent")
        ratio, text = h.bound_ratio(
            checks,
            "backfill",
            args.invoices,
            first_call,
            last_answer,
            args.per_minute,
            args.day_limit,
            args.day_seconds,
        )
        if ratio is not None and args.min_ratio:
            checks(f"backfill ratio >= {args.min_ratio}", ratio >= args.min_ratio, f"{ratio:.3f}")
        checks("not timed out", not timed_out, f"{left} still queued after {args.max_minutes} min")
    minutes = (last_answer - first_call) / 60
    span = {"paused": 0.0, "in_call": 0.0, "other": 0.0}
    for (when, kind), (after, _k) in zip(samples, samples[1:], strict=False):
        lo, hi = max(when, first_call), min(after, last_answer)
        if hi > lo:
            span[kind] += hi - lo
    exp_cpu = sum(last - first for pid, (first, last) in cpu.items() if pid in exporters)
    all_cpu = sum(last - first for first, last in cpu.values())
    exp_hwm = max((v for p, v in hwm.items() if p in exporters), default=0) / 1024
    ms_invoice = 1000 * exp_cpu / args.invoices
    print(
        f"\nbackfill: {args.invoices} posted invoices, {args.customers} customers, one company "
        f"-> one Xero organisation; limits {args.per_minute} calls/sliding minute, "
        f"{args.day_limit} per {'day' if args.day_seconds == 86400 else f'{args.day_seconds:.0f}s'}"
        f", 5 in flight; Odoo prefork --workers {args.workers} --max-cron-threads "
        f"{args.cron_threads}"
    )
    print(
        f"  books: template {template} "
        + ("reused" if built is None else f"built in {built:.0f}s")
        + f"; queued by the accountant through the export wizard in {t_queued:.1f}s"
    )
    print(f"  {text}")
    print(f"    ({h.BOUND_FORMULA})")
    print(f"  calls {sum(by_ep.values())} {json.dumps(by_ep)}; refused {json.dumps(refused)}")
    print(
        f"  wall time first call -> last answer (sampled every 0.5 s): paused for Xero's limits "
        f"{span['paused']:.0f}s, in a Xero call {span['in_call']:.0f}s, neither (Odoo's own "
        f"work, cron hand-over) {span['other']:.0f}s = "
        f"{1000 * span['other'] / args.invoices:.2f} ms/invoice"
    )
    in_calls = sum((r.ended or r.started) - r.started for r in reqs)
    upstream = sum(r.upstream_s for r in reqs)
    print(
        f"  at the proxy: {in_calls:.0f}s inside Xero calls (request received -> answer sent; "
        f"of which the emulator answering {upstream:.0f}s, the rest the proxy's tax maths and "
        f"I/O), {max(0.0, last_answer - first_call - in_calls):.0f}s between calls"
    )
    print(
        f"  Odoo's time per invoice: {ms_invoice:.2f} ms CPU of the exporting cron worker "
        f"process(es) ({len(exporters)} pids, {exp_cpu:.0f}s CPU; every worker: {all_cpu:.0f}s)"
        f"; their peak RSS (VmHWM): {exp_hwm:.0f} MB"
    )
    print(f"  Xero holds {len(live)} invoices ({len(set(numbers))} numbers); Odoo sent {sent}")
    if fault:
        print(f"  INJECTED FAULT {args.inject_fault}: {fault}")
    code = checks.report()
    print(
        f"BACKFILL invoices={args.invoices} sent={sent} duplicates={duplicates} missing={missing} "
        f"ratio={'n/a' if ratio is None else f'{ratio:.2f}'} minutes={minutes:.1f} "
        f"per_minute={args.per_minute} day_limit={args.day_limit} "
        f"ms_per_invoice={ms_invoice:.2f} peak_rss_mb={exp_hwm:.0f} "
        f"checks={'ok' if not code else 'FAILED'}"
    )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
