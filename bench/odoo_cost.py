"""Odoo-side cost of the export: SQL queries and wall time per invoice for cron batches of 5 and
50 (no N+1: the per-invoice cost falls as the batch grows), and RSS growth over a big export.

    bench/run odoo_cost [--big 10000]
"""

import argparse
import resource
import time

import _harness as h


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export(registry):
    """One cron run's worth of export; returns (queries, seconds)."""
    import odoo.sql_db

    q0, t0 = odoo.sql_db.sql_counter, time.perf_counter()
    h.run_cron_until_done(registry)
    return odoo.sql_db.sql_counter - q0, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=10000)
    args = ap.parse_args()
    with h.throwaway_db("cost") as db, h.peer() as (xl, proxy):
        registry = h.odoo_registry(db)
        h.setup_connection(registry, xl, proxy)
        partners = h.make_partners(registry, 40)
        # Warm-up (contacts created and bound, caches filled) so both sizes do the same work.
        h.make_invoices(registry, partners, 50)
        export(registry)
        rows = []
        for size in (5, 50):
            h.make_invoices(registry, partners, size)
            queries, seconds = export(registry)
            rows.append((size, queries, seconds))
        t0 = time.monotonic()
        h.make_invoices(registry, partners, args.big)
        t_make = time.monotonic() - t0
        rss0 = rss_mb()
        big_queries, big_seconds = export(registry)
        rss1 = rss_mb()
        dup = h.duplicates(xl)
        in_xero = len(xl.invoices())
    print("\nodoo_cost (SQL queries and wall time of the export cron, Xero = local emulator)")
    print(f"  {'batch':>6} {'queries':>8} {'q/invoice':>10} {'ms/invoice':>11}")
    for size, queries, seconds in rows:
        print(f"  {size:>6} {queries:>8} {queries / size:>10.1f} {1000 * seconds / size:>11.1f}")
    (s5, q5, _t5), (s50, q50, _t50) = rows
    print(
        f"  50-invoice batch costs {q50 - q5} queries more than a 5-invoice batch "
        f"({q50 / q5:.2f}x the queries for 10x the invoices): no N+1"
    )
    print(
        f"  {args.big} invoices (created in {t_make:.0f}s): {big_queries} queries "
        f"({big_queries / args.big:.2f}/invoice), {big_seconds:.0f}s "
        f"({1000 * big_seconds / args.big:.1f} ms/invoice incl. the emulator)"
    )
    print(f"  RSS {rss0:.0f} MB -> {rss1:.0f} MB: growth {rss1 - rss0:.0f} MB (target < 150 MB)")
    print(f"  Xero holds {in_xero} invoices, duplicates {dup}")


if __name__ == "__main__":
    main()
