"""Exactly-once at scale on Odoo's multi-process (prefork) server, with workers killed and the
server restarted mid-run, several organisations exporting at once under Xero's limits.

    bench/run scale [--invoices 3000 --orgs 3 --workers 4 --cron-threads 2 --per-minute 10
                     --per-day 5000 --concurrent 5 --payments 15 --burst-every 20 --users 2
                     --customers 40 --servers 1 --kills 2 --restarts 1 --server-kills 0
                     --max-minutes 30 --inject-fault F]
    bench/run scale --servers 2    (then --kills 0 --restarts 1 --server-kills 1)

What it does, all on 127.0.0.1:
- K organisations: one company (the main one + K-1 new, generic chart), one connection and one
  xero-local tenant each; the proxy enforces Xero's limits per tenant (``--per-minute`` calls in
  any sliding minute, ``--per-day`` calls, 5 concurrent calls; 429 + Retry-After beyond them).
- N posted invoices (N/K per company), created by this process before the server starts;
  ``--users`` invoicing users per company queue them all at once over XML-RPC through the
  public action ``account.move.action_xero_send`` (what the Send to Xero button and server
  action call), 100 invoices per call.
- Odoo runs in prefork mode (``--workers``, ``--max-cron-threads``), ``--servers`` of them on
  the one database, each on its own ports with its own HTTP and cron workers, sharing nothing but
  PostgreSQL; the bench is their load balancer (user i on server i % N, webhooks round robin,
  retried on the next while one is down). The bench never runs a cron itself. Meanwhile
  payments are made in Xero (on the emulator directly, as a Xero user would) for invoices
  already sent, and announced in signed webhook bursts; the payments are mirrored by the
  servers' own payments cron.
- Mid-run it SIGKILLs the cron worker that holds a claim while one of its PUT /Invoices is in
  flight (``--kills`` times) and restarts the whole server (SIGTERM, graceful, then start again;
  ``--restarts`` times; with several servers one of them in turn, the others running on), and
  SIGKILLs a whole server (master and every worker at once: a machine lost) whose cron worker
  holds a claim with a PUT in flight, then starts it again (``--server-kills``). One server:
  kills and restarts alternate, kills first (by default 2 kills, 1 restart). Several servers:
  by default the server kill, then a graceful restart of one server (a second planned kill
  found no work in flight: the export was done). From 20% sent on, at least
  ``_scale_faults.EVENT_GAP`` s apart; a fault the run ended before is missing from the SCALE
  line (exit 1). Code: ``_scale_setup`` (organisations, users), ``_scale_run`` (what the run
  watches, the payments), ``_scale_faults``, ``_scale_report`` (figures, checks).
  It measures how long the killed worker's claim stays unresolved, how long until a cron worker
  runs the export job again (Odoo's log), until Xero's limits allow a call again (the
  organisations' shared pause), and until the export's next Xero call.
- It stops by itself when every invoice is sent and every payment mirrored, or after
  ``--max-minutes``, and prints per-organisation figures, its checks, then one SCALE line.

Checks (each printed ``check NAME: ok|FAILED``; any failed one exits 1): per organisation
``_harness.xero_checks`` (no duplicate, none missing, nothing extra in Xero, each Odoo
xero_invoice_id Xero's InvoiceID for that number, all sent, paid in Odoo exactly when paid in
Xero), each organisation's ratio <= 1, every payment made in Xero mirrored once and none
doubled, every webhook burst acknowledged, every fault made, not timed out. ``--inject-fault``
breaks one thing of organisation 0 after the run (``_harness.FAULTS``).

Ratio (per organisation) = ``_harness.BOUND_FORMULA``: T, the least time from the first call to
the last answer that ``--per-minute`` calls in any sliding minute (and ``--per-day`` a day) allow
its ceil(N/50) PUT /Invoices, over the time its export took between the same two points (the
first of its export's calls, contacts included, to the last answer of one: PUT /Invoices, or the
GET /Invoices lookup of a dead batch). The payment mirror's calls spend the same budget and are
not in T (the bound stays a bound). ratio_per_org is the smallest; ratio_total = the largest
organisation's T (organisations run in parallel, each with its own budget) over first call of
any to last answer of any.
"""

import argparse
import atexit
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import _harness as h
from _scale_faults import Faults
from _scale_report import report
from _scale_run import Run, log
from _scale_setup import queue_as, setup_orgs
from _servers import LOG, Cluster


def _terminate(_signum, _frame):
    raise SystemExit(143)


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--invoices", type=int, default=3000)
    ap.add_argument("--orgs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--cron-threads", type=int, default=2)
    ap.add_argument("--per-minute", type=int, default=10)
    ap.add_argument("--per-day", type=int, default=5000)
    ap.add_argument("--concurrent", type=int, default=5)
    ap.add_argument("--payments", type=int, default=15)
    ap.add_argument("--burst-every", type=float, default=20.0)
    ap.add_argument("--users", type=int, default=2)
    ap.add_argument("--customers", type=int, default=40)
    ap.add_argument("--servers", type=int, default=1)
    ap.add_argument("--kills", type=int, default=None, help="default: 2 (one server), 0")
    ap.add_argument("--restarts", type=int, default=1)
    ap.add_argument("--server-kills", type=int, default=None, help="default: 0 (one server), 1")
    ap.add_argument("--max-minutes", type=float, default=30)
    h.add_fault_option(ap)
    args = ap.parse_args()
    several = args.servers > 1
    if args.kills is None:
        args.kills = 0 if several else 2
    if args.server_kills is None:
        args.server_kills = 1 if several else 0
    return args


def main():
    signal.signal(signal.SIGTERM, _terminate)
    args = parse_args()
    checks = h.Checks()
    k = args.orgs
    per_org = [args.invoices // k + (1 if i < args.invoices % k else 0) for i in range(k)]
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_text("")
    with h.throwaway_db("scale") as db, h.peer() as (xl, proxy):
        registry = h.odoo_registry(db)
        t0 = time.monotonic()
        orgs = setup_orgs(registry, xl, proxy, k, args.users, args.customers)
        for org, n in zip(orgs, per_org, strict=True):
            org["move_ids"] = h.make_invoices(
                registry, org["partner_ids"], n, False, 250, company_id=org["company_id"]
            )
        log(f"{k} organisations, {args.invoices} posted invoices in {time.monotonic() - t0:.0f}s")
        proxy.reset()
        proxy.tenant_limits(args.per_minute, args.per_day, args.concurrent)
        server = Cluster(db, args)
        atexit.register(server.stop, 30)  # on any exit of this bench (SIGTERM included)
        server.start()
        log(
            f"{args.servers} Odoo prefork server(s) on 127.0.0.1:"
            f"{','.join(str(s.http_port) for s in server.servers)}: {args.workers} HTTP workers "
            f"and {args.cron_threads} cron workers each (log {LOG})"
        )
        # --- users queue everything at once, over XML-RPC, through the public action; the
        # load balancer sends user i to server i % N
        jobs = []
        for org in orgs:
            share = len(org["logins"])
            for u, login in enumerate(org["logins"]):
                jobs.append((server.url(len(jobs)), db, login, org["move_ids"][u::share]))
        t_start = time.monotonic()
        with ThreadPoolExecutor(len(jobs)) as pool:
            queued = sum(pool.map(lambda j: queue_as(*j), jobs))
        t_queued = time.monotonic() - t_start
        log(f"{queued} invoices queued by {len(jobs)} users in {t_queued:.1f}s")

        run = Run(args, registry, xl, proxy, server, orgs)
        threading.Thread(target=run.sampler, daemon=True).start()
        faults = Faults(run)
        # --- the scenario: payments announced by webhook bursts, the faults in their turn
        deadline = run.t_run + args.max_minutes * 60
        next_burst = time.monotonic() + 5
        while time.monotonic() < deadline:
            sent = run.sent_total()
            mirrored = run.db_rows(
                "SELECT count(DISTINCT xero_payment_id) FROM account_payment "
                "WHERE xero_payment_id IS NOT NULL AND state NOT IN ('canceled', 'rejected')"
            )[0][0]
            if (
                sent >= args.invoices
                and len(run.paid) >= min(args.payments, args.invoices)
                and None not in run.paid.values()
                and mirrored >= len(run.paid)
            ):
                break  # the faults not made by then are missing from the SCALE line (exit 1)
            if sent and time.monotonic() >= next_burst and len(run.paid) < args.payments:
                threading.Thread(target=run.burst, daemon=True).start()
                next_burst = time.monotonic() + args.burst_every
            if faults.step(sent / args.invoices):
                continue
            time.sleep(0.5)
        t_end = time.monotonic()
        run.stop.set()
        run.progress()
        timed_out = t_end >= deadline
        # --- let the last webhook processing settle, then stop the server
        run.note_hwm(server.children())
        server.stop()
        return report(run, faults, checks, per_org, t_end, timed_out, len(jobs), t_queued)


if __name__ == "__main__":
    sys.exit(main())
