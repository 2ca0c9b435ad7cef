"""The scale bench's figures, checks and SCALE line, read after the servers stopped."""

import json
import re

import _harness as h
from _scale_run import CALLS, CONTACTS, INVOICES, secs


def report(run, faults, checks, per_org, t_end, timed_out, n_users, t_queued):  # noqa: C901
    """Print the figures and the checks, then the SCALE line; the exit status."""
    args, k, fault = run.args, len(run.orgs), None
    # --- figures
    with run.registry.cursor() as cr:
        cr.execute(
            "SELECT xero_connection_id, xero_state, count(*) FROM account_move "
            "WHERE move_type = 'out_invoice' GROUP BY 1, 2"
        )
        states = {}
        for conn_id, st, n in cr.fetchall():
            states.setdefault(conn_id, {})[st] = n
        cr.execute(
            "SELECT xero_payment_id, count(*) FROM account_payment "
            "WHERE xero_payment_id IS NOT NULL AND state NOT IN ('canceled', 'rejected') "
            "GROUP BY 1"
        )
        live = dict(cr.fetchall())
        cr.execute(
            "SELECT count(*) FROM account_move WHERE id = ANY(%s) "
            "AND payment_state IN ('paid', 'in_payment')",
            [list(run.paid) or [0]],
        )
        paid_in_odoo = cr.fetchone()[0]
    per_tenant_calls = run.proxy.per_tenant()
    with open(CALLS, "w") as f:  # the timeline behind the figures, for reading afterwards
        f.write("# seconds since the run began: tenant method path action (answered after)\n")
        f.writelines(
            f"{r.started - run.t_run:8.2f} {r.tenant} {r.method} {r.path} {r.action} "
            f"({r.ended - r.started if r.ended else -1:.2f}s)\n"
            for r in sorted(run.proxy.requests, key=lambda r: r.started)
        )
        f.writelines(f"{at:8.2f} EVENT {ev[0]}\n" for ev in run.events for at in [ev[1]])
    if args.inject_fault:  # after the server stopped: nothing can repair it
        fault = h.inject_fault(
            args.inject_fault, run.registry, run.xl, run.orgs[0]["tenant"], run.orgs[0]["move_ids"]
        )
    rows_out = []
    duplicates = missing = 0
    windows = []
    ratios = []
    for org, n in zip(run.orgs, per_org, strict=True):
        t = org["tenant"]
        xero_invs = h.xero_invoices(run.xl, t)
        odoo_rows = h.odoo_invoices(run.registry, org["move_ids"])
        held = h.xero_checks(checks, xero_invs, odoo_rows, label=f"org {org['i']}")
        numbers = [
            i.get("InvoiceNumber")
            for i in xero_invs
            if i.get("Status") not in ("DELETED", "VOIDED")
        ]
        duplicates += len(numbers) - len(set(numbers))
        missing += len({r[0] for r in odoo_rows} - set(numbers))
        calls = {}
        for key, n_calls in per_tenant_calls.get(t, {}).items():
            key = re.sub(r"/[0-9a-f-]{36}$", "/{id}", key.replace(h.API, ""))
            calls[key] = calls.get(key, 0) + n_calls
        reqs = [r for r in list(run.proxy.requests) if r.tenant == t]
        # The export's calls (contacts, PUT /Invoices, the GET /Invoices lookup of a dead
        # batch), 429s included; not the payment mirror's (/Payments, GET /Invoices/{id}).
        export = [r for r in reqs if r.path == INVOICES or r.path.startswith(CONTACTS)]
        first = min((r.started for r in export), default=0.0)
        last = max((r.ended for r in export), default=0.0)
        windows.append((first, last))
        ratio, text = h.bound_ratio(
            checks, f"org {org['i']}", n, first, last, args.per_minute, args.per_day
        )
        ratios.append(ratio)
        upstream = sum(r.upstream_s for r in reqs if first <= r.started <= last)
        # Each sample's state holds until the next sample (the sampler's own pace varies).
        s = {"paused": 0.0, "in_call": 0.0, "other": 0.0}
        seq = run.samples[t]
        for (when, kind), (after, _k) in zip(seq, seq[1:], strict=False):
            lo, hi = max(when, first), min(after, last)
            if hi > lo:
                s[kind] += hi - lo
        rows_out.append(
            f"  org {org['i']}: {n} invoices, Xero holds {len(held)} distinct numbers; "
            f"states {json.dumps(states.get(org['conn_id'], {}), sort_keys=True)}\n"
            f"    {text}\n"
            f"    calls {json.dumps(calls, sort_keys=True)}\n"
            f"    wall time first call -> last answer (sampled about every 0.5 s): paused for "
            f"limits {s['paused']:.0f}s, in a Xero call {s['in_call']:.0f}s (of which the "
            f"emulator answering {upstream:.0f}s), neither (Odoo work, cron wake-up) "
            f"{s['other']:.0f}s"
        )
    # Organisations export in parallel, each with its own budget: the bound of the whole is
    # the largest organisation's, against first call of any to last answer of any.
    t_bound = max(h.export_bound(n, args.per_minute, args.per_day)[1] for n in per_org)
    span = max(w[1] for w in windows) - min(w[0] for w in windows)
    ratio_total = t_bound / span if t_bound and span > 0 else None
    if ratio_total is not None:
        checks("total ratio <= 1", ratio_total <= 1, f"{ratio_total:.3f}")
    total_text = (
        f"all {args.invoices} invoices in {span:.1f}s from the first call of any organisation "
        f"to the last answer of any; bound T = the largest organisation's = {t_bound:.0f}s "
        "(each has its own budget): "
        + ("no ratio" if ratio_total is None else f"ratio {ratio_total:.2f}")
    )
    doubled = sum(1 for n in live.values() if n > 1)
    payments = sum(1 for pid in run.paid.values() if pid and pid in live)
    sent = sum(v.get("sent", 0) for v in states.values())
    exp_hwm = max((v for p, v in run.hwm.items() if p in run.exporters), default=0) / 1024
    all_hwm = max(run.hwm.values(), default=0) / 1024
    checks(
        "payments mirrored",
        payments == len(run.paid) == min(args.payments, args.invoices)
        and paid_in_odoo == len(run.paid),
        f"{len(run.paid)} made in Xero of {args.payments} asked, {payments} mirrored, "
        f"{paid_in_odoo} invoices paid in Odoo",
    )
    checks("payments doubled", not doubled, f"{doubled} mirrored more than once")
    checks(
        "webhook bursts acknowledged",
        not run.unacked,
        f"{run.unacked} bursts not answered 200 within 300 s; answers {json.dumps(run.answers)}",
    )
    checks(
        "scenario complete",
        faults.kills >= args.kills
        and faults.restarts >= args.restarts
        and faults.server_kills >= args.server_kills
        and not timed_out,
        f"{faults.kills} of {args.kills} kills, {faults.restarts} of {args.restarts} restarts, "
        f"{faults.server_kills} of {args.server_kills} server kills"
        + (", TIMED OUT" if timed_out else ""),
    )

    print(
        f"\nscale: {args.invoices} invoices, {k} organisations, {args.servers} Odoo prefork "
        f"server(s) on one database, each --workers {args.workers} --max-cron-threads "
        f"{args.cron_threads}; Xero limits per organisation: "
        f"{args.per_minute} calls/sliding minute, {args.per_day}/day, {args.concurrent} "
        f"concurrent (429 + Retry-After beyond)"
    )
    print(f"  queued by {n_users} users over XML-RPC (action_xero_send) in {t_queued:.1f}s")
    for row in rows_out:
        print(row)
    for ev in run.events:
        if ev[0] in ("kill", "server-kill"):
            what, at, n_sending, resolved, moved, job, allowed, claim_paused, up = ev
            who = (
                "a whole server (master and every worker) SIGKILLed, its cron worker with a PUT "
                f"in flight, started again (answering after {secs(up.get('t'), 'never')})"
                if what == "server-kill"
                else "cron worker SIGKILLed with a PUT in flight"
            )
            print(
                f"  {what} at {at:.0f}s: {who}; its claim "
                f"({n_sending} invoices sending; their organisations paused for Xero's limits "
                f"{claim_paused:.1f}s more) resolved after {secs(resolved, 'NOT in 300s')}; "
                f"export job running again after {secs(job)}; Xero calls allowed again "
                f"(limits) after {allowed:.1f}s; export's next Xero call after {secs(moved)}"
            )
        else:
            _w, at, t_down, t_up, moved, job, allowed = ev
            print(
                f"  restart at {at:.0f}s, from its SIGTERM: graceful stop {t_down:.1f}s, "
                f"answering again after {t_up:.1f}s, export job running again after "
                f"{secs(job)}; Xero calls allowed again (limits) after {allowed:.1f}s; the new "
                f"server's first Xero call after {secs(moved)}"
            )
    print(
        f"  payments: {len(run.paid)} made in Xero and announced by webhook (each burst posted "
        f"twice); {payments} mirrored once, {doubled} doubled; {paid_in_odoo} invoices paid in "
        f"Odoo"
    )
    print(
        f"  peak RSS (VmHWM) of the exporting processes (cron workers that held a claim, "
        f"{len(run.exporters)} pids): {exp_hwm:.0f} MB; of any worker process: {all_hwm:.0f} MB "
        f"(none of them created the data)"
    )
    print(f"  run {t_end - run.t_run:.0f}s{' (TIMED OUT)' if timed_out else ''}")
    print(f"  total: {total_text}")
    print(f"    ({h.BOUND_FORMULA})")
    if args.inject_fault:
        print(f"  INJECTED FAULT {args.inject_fault}: {fault}")
    code = checks.report()
    valid = [r for r in ratios if r is not None]
    print(
        f"SCALE servers={args.servers} invoices={args.invoices} sent={sent} "
        f"duplicates={duplicates} missing={missing} orgs={k} payments_expected={len(run.paid)} "
        f"payments={payments} doubled={doubled} "
        f"ratio_per_org={f'{min(valid):.2f}' if valid else 'n/a'} "
        f"ratio_total={'n/a' if ratio_total is None else f'{ratio_total:.2f}'} "
        f"kills={faults.kills} restarts={faults.restarts} server_kills={faults.server_kills} "
        f"checks={'ok' if not code else 'FAILED'}"
    )
    return code
