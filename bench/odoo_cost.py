"""Odoo-side cost of the export: SQL queries and wall time per invoice for cron batches of 5 and
50 (no N+1: the per-invoice cost falls as the batch grows), and the memory and wall time of a big
export.

    bench/run odoo_cost [--big 10000]

The big export runs in a process of its own that did not create the data (as a cron worker):
its memory is its peak RSS (VmHWM) after loading the registry and after the export. Its wall
time is broken down by sampling every 0.5 s: paused for Xero's limits (the connection's
not_before is ahead), in a Xero call (the proxy has one in flight; of which the emulator
answering, summed at the proxy), or neither (Odoo's own work).

Queries are counted around the export cron's own calls only (``run_cron_until_done(stats=)``),
not the harness's bookkeeping between them. Checks: no N+1 (a batch of 50 costs at most
``N_PLUS_ONE_SLACK`` queries more than a batch of 5: one query per invoice would be 45 more)
and ``_harness.xero_checks`` over every invoice exported; any failed one exits 1.
``--inject-fault n-plus-one`` adds one query per invoice to the export (in this process) to show
the check catches it.

    bench/run odoo_cost [--big 10000 --inject-fault F]
"""

import argparse
import json
import subprocess
import sys
import threading
import time

import _harness as h

N_PLUS_ONE_SLACK = 10  # queries a 50-invoice batch may cost more than a 5-invoice one

EXPORT_ONLY = """
import json, sys, time
sys.path.insert(0, sys.argv[2])
import _harness as h
import odoo.sql_db

def hwm():
    with open("/proc/self/status") as f:
        return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 1024

registry = h.odoo_registry(sys.argv[1])
with registry.cursor() as cr:  # load what a worker loads before its first job
    h.env_of(cr)["account.move"].search([], limit=1)
hwm0, stats, t0 = hwm(), {}, time.perf_counter()
print("START", flush=True)
h.run_cron_until_done(registry, max_wait=3600, stats=stats)
print("END", flush=True)
print(json.dumps({"hwm0": hwm0, "hwm1": hwm(), "queries": stats.get("queries", 0),
                  "seconds": time.perf_counter() - t0}))
"""


def export(registry):
    """Export what is queued; returns (queries of the export cron's calls, seconds)."""
    stats, t0 = {}, time.perf_counter()
    h.run_cron_until_done(registry, stats=stats)
    return stats.get("queries", 0), time.perf_counter() - t0


def n_plus_one(registry):
    """The injected fault: one more query per invoice in the export's data read."""
    cls = registry["xero.invoice.data"]  # the model class: every env made later uses it
    orig = cls._xero_invoice_data

    def per_invoice(self, conn, moves):
        for move in moves:
            self.env.cr.execute("SELECT %s", [move.id])
        return orig(self, conn, moves)

    cls._xero_invoice_data = per_invoice


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=10000)
    h.add_fault_option(ap, extra=("n-plus-one",))
    args = ap.parse_args()
    checks = h.Checks()
    with h.throwaway_db("cost") as db, h.peer() as (xl, proxy):
        registry = h.odoo_registry(db)
        h.setup_connection(registry, xl, proxy)
        partners = h.make_partners(registry, 40)
        # Warm-up (contacts created and bound, caches filled) so both sizes do the same work.
        move_ids = h.make_invoices(registry, partners, 50)
        export(registry)
        if args.inject_fault == "n-plus-one":
            n_plus_one(registry)
        rows = []
        for size in (5, 50):
            move_ids += h.make_invoices(registry, partners, size)
            queries, seconds = export(registry)
            rows.append((size, queries, seconds))
        t0 = time.monotonic()
        move_ids += h.make_invoices(registry, partners, args.big)
        t_make = time.monotonic() - t0
        with registry.cursor() as cr:
            cr.execute("SELECT id FROM xero_connection LIMIT 1")
            conn_id = cr.fetchone()[0]
        samples = {"paused": 0.0, "in_call": 0.0, "other": 0.0}
        stop = threading.Event()

        def sampler():
            last = time.monotonic()
            while not stop.wait(0.5):
                with registry.cursor() as cr:
                    cr.execute(
                        "SELECT not_before > (now() at time zone 'utc') FROM xero_connection "
                        "WHERE id = %s",
                        [conn_id],
                    )
                    paused = bool(cr.fetchone()[0])
                inflight = any(not r.ended for r in list(proxy.requests))
                now = time.monotonic()
                samples["in_call" if inflight else "paused" if paused else "other"] += now - last
                last = now

        proc = subprocess.Popen(
            [sys.executable, "-c", EXPORT_ONLY, db, str(h.REPO / "bench")],
            stdout=subprocess.PIPE,
            text=True,
        )
        thread = threading.Thread(target=sampler, daemon=True)
        lines = []
        for line in proc.stdout:
            lines.append(line.strip())
            if line.strip() == "START":  # the export begins: sample from here
                since = time.monotonic()
                thread.start()
            elif line.strip() == "END":
                stop.set()
                until = time.monotonic()
        if proc.wait() != 0:
            raise RuntimeError(f"the exporting process failed: {lines[-5:]}")
        thread.join()
        big = json.loads(lines[-1])
        window = [r for r in list(proxy.requests) if since <= r.started <= until]
        upstream = sum(r.upstream_s for r in window)
        calls = len(window)
        fault = (
            args.inject_fault
            and args.inject_fault != "n-plus-one"
            and h.inject_fault(args.inject_fault, registry, xl, xl.tenant_id(), move_ids)
        )
        held = h.xero_checks(
            checks, h.xero_invoices(xl, xl.tenant_id()), h.odoo_invoices(registry, move_ids)
        )
    print("\nodoo_cost (SQL queries and wall time of the export cron, Xero = local emulator)")
    print(f"  {'batch':>6} {'queries':>8} {'q/invoice':>10} {'ms/invoice':>11}")
    for size, queries, seconds in rows:
        print(f"  {size:>6} {queries:>8} {queries / size:>10.1f} {1000 * seconds / size:>11.1f}")
    (s5, q5, _t5), (s50, q50, _t50) = rows
    n1 = q50 - q5 <= N_PLUS_ONE_SLACK
    checks(
        "no N+1",
        n1,
        f"queries(50) - queries(5) = {q50} - {q5} = {q50 - q5}, limit {N_PLUS_ONE_SLACK}; "
        f"one per invoice would be {s50 - s5}",
    )
    print(
        f"  50-invoice batch costs {q50 - q5} queries more than a 5-invoice batch "
        f"(limit {N_PLUS_ONE_SLACK}): {'no N+1' if n1 else 'N+1'}"
    )
    print(
        f"  {args.big} invoices (created in {t_make:.0f}s by this process), exported by another "
        f"process: {big['queries']} queries ({big['queries'] / args.big:.2f}/invoice), "
        f"{big['seconds']:.0f}s ({1000 * big['seconds'] / args.big:.1f} ms/invoice) in {calls} "
        f"Xero calls"
    )
    print(
        f"    wall time (sampled about every 0.5 s): paused for Xero's limits "
        f"{samples['paused']:.1f}s (the proxy advertises 60 calls/min), in a Xero call "
        f"{samples['in_call']:.1f}s (of which the emulator answering {upstream:.1f}s), Odoo's "
        f"own work {samples['other']:.1f}s"
    )
    print(
        f"  exporting process peak RSS (VmHWM): {big['hwm0']:.0f} MB after loading, "
        f"{big['hwm1']:.0f} MB after the export: growth {big['hwm1'] - big['hwm0']:.0f} MB "
        f"(target < 150 MB)"
    )
    print(f"  Xero holds {len(held)} distinct numbers, of {len(move_ids)} exported")
    if args.inject_fault:
        print(f"  INJECTED FAULT {args.inject_fault}: {fault or 'one query more per invoice'}")
    code = checks.report()
    print(
        f"ODOO_COST q5={q5} q50={q50} big={args.big} big_queries={big['queries']} "
        f"big_seconds={big['seconds']:.1f} hwm_growth_mb={big['hwm1'] - big['hwm0']:.0f} "
        f"checks={'ok' if not code else 'FAILED'}"
    )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
