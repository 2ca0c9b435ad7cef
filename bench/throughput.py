"""Invoices exported under a per-minute call limit, against the least time that limit allows.

The proxy enforces L calls per sliding minute (429 + Retry-After beyond it, as Xero does) and
reports X-MinLimit-Remaining; the pacing is the product's own (not_before + cron re-trigger).
The ratio is ``_harness.BOUND_FORMULA``: the least time from the first Xero call to the last
answer that L calls a minute allow ceil(N/50) PUT /Invoices, over the time the run took
between the same two points. Correctness checks (``_harness.xero_checks``) are printed; any
failed one exits 1.

    bench/run throughput [--per-minute 10 --invoices 1500 --customers 50 --inject-fault F]
"""

import argparse
import json
import time

import _harness as h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-minute", type=int, default=10)
    ap.add_argument("--invoices", type=int, default=1500)
    ap.add_argument("--customers", type=int, default=50)
    h.add_fault_option(ap)
    args = ap.parse_args()
    checks = h.Checks()
    with h.throwaway_db("throughput") as db, h.peer() as (xl, proxy):
        registry = h.odoo_registry(db)
        h.setup_connection(registry, xl, proxy)
        partners = h.make_partners(registry, args.customers)
        t0 = time.monotonic()
        move_ids = h.make_invoices(registry, partners, args.invoices)
        t_make = time.monotonic() - t0
        proxy.reset()
        proxy.rate_limit(args.per_minute)
        runs = h.run_cron_until_done(registry, max_wait=3600)
        reqs = list(proxy.requests)
        by_ep = h.calls_by_endpoint(proxy)
        refused = sum(1 for r in reqs if r.action.startswith("rate_limit"))
        first_call = min(r.started for r in reqs)
        last_answer = max(r.ended for r in reqs)
        fault = args.inject_fault and h.inject_fault(
            args.inject_fault, registry, xl, xl.tenant_id(), move_ids
        )
        held = h.xero_checks(
            checks, h.xero_invoices(xl, xl.tenant_id()), h.odoo_invoices(registry, move_ids)
        )
    calls = sum(by_ep.values())
    ratio, text = h.bound_ratio(
        checks, "throughput", args.invoices, first_call, last_answer, args.per_minute
    )
    print(
        f"\nthroughput: {args.invoices} invoices, {args.customers} customers, limit "
        f"{args.per_minute} calls per sliding minute (invoices created in {t_make:.0f}s), "
        f"{runs} cron runs"
    )
    print(f"  {text}")
    print(f"    ({h.BOUND_FORMULA})")
    print(
        f"  calls {calls} {json.dumps(by_ep)}; answered 429 by the limiter: {refused}; "
        f"Xero holds {len(held)} distinct numbers"
    )
    if fault:
        print(f"  INJECTED FAULT {args.inject_fault}: {fault}")
    code = checks.report()
    print(
        f"THROUGHPUT invoices={args.invoices} per_minute={args.per_minute} "
        f"seconds={last_answer - first_call:.1f} calls={calls} refused={refused} "
        f"ratio={'n/a' if ratio is None else f'{ratio:.2f}'} "
        f"checks={'ok' if not code else 'FAILED'}"
    )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
