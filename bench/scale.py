"""Exactly-once at scale on Odoo's multi-process (prefork) server, with workers killed and the
server restarted mid-run, several organisations exporting at once under Xero's limits.

    bench/run scale [--invoices 3000 --orgs 3 --workers 4 --cron-threads 2 --per-minute 10
                     --per-day 5000 --concurrent 5 --payments 15 --burst-every 20 --users 2
                     --customers 40 --kills 2 --restarts 1 --servers 1 --server-kills 0
                     --max-minutes 30 --inject-fault F]

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
  holds a claim with a PUT in flight, then starts it again (``--server-kills``, 1 by default
  with ``--servers`` 2 or more). Kills, restarts and server kills alternate, kills first, from
  20% sent on, at least ``EVENT_GAP`` s apart; a fault the run ended before is missing from the
  SCALE line (exit 1).
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
import json
import os
import re
import signal
import sys
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor

import _harness as h
from _servers import LOG, Cluster, claim_holders, vm_hwm_kb
from casemgr_xero_testing.webhook import build_event, build_payload, signed_post

KEY = "bench-scale-webhook-key"
PASSWORD = "bench-scale-user"
CALLS = h.REPO / ".cache" / "bench-scale-calls.log"  # every Xero call, per organisation
INVOICES = h.API + "/Invoices"
CONTACTS = h.API + "/Contacts"
EVENT_GAP = 20  # seconds at least between two faults (kills, restarts)


def secs(value, none="none"):
    return none if value is None else f"{value:.1f}s"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- setup
def setup_orgs(registry, xl, proxy, k, users_per_org, customers):
    """K companies, each with a connection (own tenant), payments on, users, customers."""
    orgs = []
    with registry.cursor() as cr:
        env = h.env_of(cr)
        main = env.ref("base.main_company")
        chart = main.chart_template or "generic_coa"
        companies = [main]
        for i in range(1, k):
            company = env["res.company"].create(
                {"name": f"Bench Org {i}", "currency_id": main.currency_id.id}
            )
            env["account.chart.template"].try_loading(chart, company, install_demo=False)
            companies.append(company)
        group = env.ref("account.group_account_invoice")
        for i, company in enumerate(companies):
            tenant = f"bench-tenant-{i}-{os.getpid()}"
            base = proxy.url
            conn = env["xero.connection"].create(
                {
                    "name": f"Bench {i}",
                    "company_id": company.id,
                    "client_id": "C",
                    "client_secret": "S",
                    "api_url": base + h.API,
                    "connections_url": base + "/connections",
                    "token_url": base + "/connect/token",
                    "authorize_url": base + "/authorize",
                    "revocation_url": base + "/connect/revocation",
                }
            )
            conn.sudo().write(
                {
                    "tenant_id": tenant,
                    "tenant_name": f"Bench Org {i}",
                    "state": "connected",
                    "access_token": "A",
                    "refresh_token": "R",
                    "token_expires_at": time.time() + 86400,
                    "payments_enabled": True,
                    "webhook_key": KEY,
                    "last_payment_poll": "2019-01-01 00:00:00",
                }
            )
            bank = env["account.journal"].search(
                [("company_id", "=", company.id), ("type", "=", "bank")], limit=1
            )
            env["xero.payment.journal"].create(
                {"connection_id": conn.id, "xero_account": "090", "journal_id": bank.id}
            )
            from odoo.addons.casemgr_xero import compat  # the addon's one home for series diffs

            users = env["res.users"].create(
                [
                    {
                        "name": f"Bench Biller {i}.{u}",
                        "login": f"biller{i}.{u}",
                        "password": PASSWORD,
                        "company_id": company.id,
                        "company_ids": [(6, 0, [company.id])],
                        compat.GROUPS_FIELD: [(6, 0, [group.id, env.ref("base.group_user").id])],
                    }
                    for u in range(users_per_org)
                ]
            )
            partners = env["res.partner"].create(
                [
                    {"name": f"Org {i} Client {c:03d}", "email": f"o{i}c{c}@example.com"}
                    for c in range(customers)
                ]
            )
            orgs.append(
                {
                    "i": i,
                    "company_id": company.id,
                    "conn_id": conn.id,
                    "tenant": tenant,
                    "logins": users.mapped("login"),
                    "partner_ids": partners.ids,
                }
            )
    return orgs


# ---------------------------------------------------------------------------- Xero side
def xero_direct(xl, tenant):
    """A client straight to the emulator (a Xero user's own actions, outside the app's limits)."""
    from casemgr_xero_core.client import XeroClient
    from casemgr_xero_core.endpoints import XeroEndpoints

    return XeroClient(
        XeroEndpoints.for_base(xl.url),
        tenant,
        get_token=lambda: {"access_token": "bench", "expires_at": time.time() + 9999},
    )


# ---------------------------------------------------------------------------- run
def _terminate(_signum, _frame):
    raise SystemExit(143)


def main():  # noqa: C901 - one scripted scenario, read top to bottom
    signal.signal(signal.SIGTERM, _terminate)
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
    ap.add_argument("--kills", type=int, default=2)
    ap.add_argument("--restarts", type=int, default=1)
    ap.add_argument("--servers", type=int, default=1)
    ap.add_argument(
        "--server-kills", type=int, default=None, help="default: 1 with --servers 2 or more"
    )
    ap.add_argument("--max-minutes", type=float, default=30)
    h.add_fault_option(ap)
    args = ap.parse_args()
    if args.server_kills is None:
        args.server_kills = 1 if args.servers > 1 else 0
    checks = h.Checks()
    fault = None
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
        stop = threading.Event()
        samples = {o["tenant"]: [] for o in orgs}  # (monotonic, kind)
        hwm = {}  # pid -> VmHWM kB, of every worker process seen
        exporters = set()  # pids that held an export claim (the exporting processes)
        state = {"first_put": {}, "last_put": {}}

        def db_rows(sql, params=()):
            with registry.cursor() as cr:
                cr.execute(sql, params)
                return cr.fetchall()

        # --- users queue everything at once, over XML-RPC, through the public action
        def queue_as(login, ids, i):
            url = server.url(i)  # the load balancer sends user i to server i % N
            common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common", allow_none=True)
            uid = common.authenticate(db, login, PASSWORD, {})
            models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)
            for start in range(0, len(ids), 100):
                models.execute_kw(
                    db,
                    uid,
                    PASSWORD,
                    "account.move",
                    "action_xero_send",
                    [ids[start : start + 100]],
                )
            return len(ids)

        jobs = []
        for org in orgs:
            share = len(org["logins"])
            for u, login in enumerate(org["logins"]):
                jobs.append((login, org["move_ids"][u::share], len(jobs)))
        t_start = time.monotonic()
        with ThreadPoolExecutor(len(jobs)) as pool:
            queued = sum(pool.map(lambda j: queue_as(*j), jobs))
        t_queued = time.monotonic() - t_start
        log(f"{queued} invoices queued by {len(jobs)} users in {t_queued:.1f}s")

        # --- sampler: per organisation, paused for limits / in a Xero call / anything else
        def sampler():
            step = 0.5
            while not stop.wait(step):
                try:
                    rows = db_rows(
                        "SELECT tenant_id, not_before > (now() at time zone 'utc') "
                        "FROM xero_connection"
                    )
                except Exception:  # noqa: BLE001 - the database is shared with the run
                    continue
                paused = {t: bool(p) for t, p in rows}
                inflight = {r.tenant for r in list(proxy.requests) if r.tenant and not r.ended}
                now = time.monotonic()
                for t in samples:
                    kind = "in_call" if t in inflight else "paused" if paused.get(t) else "other"
                    samples[t].append((now, kind))
                try:
                    exporters.update(claim_holders(db_rows, server))
                except Exception:  # noqa: BLE001 - the database is shared with the run
                    pass
                for pid in server.children():
                    hwm[pid] = max(hwm.get(pid, 0), vm_hwm_kb(pid))

        threading.Thread(target=sampler, daemon=True).start()

        # --- progress, from the proxy (PUT /Invoices answered 200) and the database
        def progress():
            for r in list(proxy.requests):
                if r.method == "PUT" and r.path == INVOICES and r.action == "forward" and r.ended:
                    state["first_put"].setdefault(r.tenant, r.ended)
                    state["last_put"][r.tenant] = max(state["last_put"].get(r.tenant, 0), r.ended)
            rows = db_rows(
                "SELECT xero_connection_id, xero_state, count(*) FROM account_move "
                "WHERE move_type = 'out_invoice' AND xero_connection_id IS NOT NULL GROUP BY 1, 2"
            )
            by = {}
            for conn_id, st, n in rows:
                by.setdefault(conn_id, {})[st] = n
            return by

        def sent_total():
            return sum(v.get("sent", 0) for v in progress().values())

        def last_put_time():
            ends = [
                r.started
                for r in list(proxy.requests)
                if r.method == "PUT" and r.path == INVOICES and r.action == "forward"
            ]
            return max(ends) if ends else 0

        def wait_moved_after(t, limit=600):
            """Seconds from ``t`` to the export's first Xero call after it (a PUT /Invoices,
            or the GET /Invoices lookup that resolves a dead claim)."""
            end = time.monotonic() + limit
            while time.monotonic() < end and not stop.is_set():
                starts = [
                    r.started
                    for r in list(proxy.requests)
                    if r.path == INVOICES and r.action == "forward" and r.started > t
                ]
                if starts:
                    return min(starts) - t
                if sent_total() >= args.invoices:
                    return None
                time.sleep(0.2)
            return None

        job_line = re.compile(
            r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \d+ INFO \S+ "
            r"odoo\.addons\.base\.models\.ir_cron: Job 'Xero: export queued invoices' "
            r"\(\d+\) starting"
        )

        def job_started_after(t_wall, limit=300):
            """Seconds from wall time ``t_wall`` to the next start of the export cron job
            (Odoo's own log line: a cron worker took the job), None if none within ``limit``."""
            end = time.monotonic() + limit
            while time.monotonic() < end and not stop.is_set():
                with open(LOG) as f:
                    for line in f:
                        m = job_line.match(line)
                        if not m:
                            continue
                        ts = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
                        ts += int(m.group(2)) / 1000
                        if ts >= t_wall:
                            return ts - t_wall
                if sent_total() >= args.invoices:
                    return None
                time.sleep(0.2)
            return None

        def calls_allowed_after(conn_ids=None):
            """Seconds until Xero's limits let the export call again (``not_before``, the pause
            every worker shares): the first organisation with work left, or, given
            ``conn_ids``, the last of those (a dead claim is looked up in Xero: a call)."""
            where = "c.id = ANY(%s)" if conn_ids else "c.state = 'connected'"
            rows = db_rows(
                f"SELECT {'max' if conn_ids else 'min'}(greatest(0, extract(epoch FROM "
                "coalesce(c.not_before, now() at time zone 'utc') - (now() at time zone 'utc'))))"
                f" FROM xero_connection c WHERE {where} AND EXISTS ("
                "SELECT 1 FROM account_move m WHERE m.xero_connection_id = c.id "
                "AND m.xero_state IN ('queued', 'sending'))",
                [list(conn_ids)] if conn_ids else [],
            )
            return float(rows[0][0] or 0)

        # --- webhook bursts: pay some already-sent invoices in Xero, announce them signed
        paid = {}  # move id -> Xero PaymentID
        pay_lock = threading.Lock()
        answers = {}  # webhook POST answers by status ("None": no answer, server down)
        unacked = 0  # bursts never answered 200 (Xero would give up on them)
        burst_size = 1  # per organisation and burst: payments keep arriving during the run

        def burst():
            nonlocal unacked
            rows = db_rows(
                "SELECT id, xero_connection_id, xero_invoice_id, amount_total FROM account_move "
                "WHERE xero_state = 'sent' AND move_type = 'out_invoice' ORDER BY random()"
            )
            conn_tenant = {o["conn_id"]: o["tenant"] for o in orgs}
            per_conn = {}
            for move_id, conn_id, xero_id, total in rows:
                with pay_lock:
                    if move_id in paid or len(paid) >= args.payments:
                        continue
                lst = per_conn.setdefault(conn_id, [])
                if len(lst) < burst_size:
                    lst.append((move_id, xero_id, total))
            for conn_id, items in per_conn.items():
                tenant = conn_tenant[conn_id]
                events = []
                for move_id, xero_id, total in items:
                    with pay_lock:
                        if len(paid) >= args.payments:
                            break
                        paid[move_id] = None
                    body = {
                        "Payments": [
                            {
                                "Invoice": {"InvoiceID": xero_id},
                                "Account": {"Code": "090"},
                                "Date": "2019-01-05",
                                "Amount": float(total),
                            }
                        ]
                    }
                    try:
                        pay = xero_direct(xl, tenant).create_payment(body["Payments"][0])
                    except Exception as exc:  # noqa: BLE001 - reported, not counted
                        log(f"payment in Xero failed: {exc}")
                        with pay_lock:
                            del paid[move_id]
                        continue
                    paid[move_id] = pay["PaymentID"]
                    events.append(build_event(xero_id, tenant_id=tenant))
                if events:
                    # Every burst is posted twice (Xero redelivers), and again until it is
                    # acknowledged (as Xero retries while the server restarts).
                    for _ in range(2):
                        end = time.monotonic() + 300
                        status = None
                        while time.monotonic() < end:
                            try:  # the next server in turn (a load balancer's round robin)
                                status, _b = signed_post(
                                    f"{server.url()}/xero/webhook/{conn_id}",
                                    build_payload(events),
                                    KEY,
                                )
                            except OSError:
                                status = None
                            with pay_lock:
                                answers[str(status)] = answers.get(str(status), 0) + 1
                            if status == 200:
                                break
                            time.sleep(2)
                        if status != 200:
                            log(f"webhook not acknowledged: {status}")
                            unacked += 1

        # --- the scenario
        events = []  # (what, t, details)
        t_run = time.monotonic()
        deadline = t_run + args.max_minutes * 60
        # The faults, one after the other: kills and restarts alternate (kills first), the first
        # once 20% of the invoices are sent, each next one at least EVENT_GAP s after the last,
        # so that they fall into different minutes of Xero's budget (by progress alone they
        # bunched at the start of one minute, when the export resumes after a pause).
        plan = []
        for i in range(max(args.kills, args.restarts, args.server_kills)):
            plan += ["kill"] * (i < args.kills) + ["restart"] * (i < args.restarts)
            plan += ["server-kill"] * (i < args.server_kills)
        kills = restarts = server_kills = 0
        last_event = None
        armed = False

        def due(frac):
            step = kills + restarts + server_kills
            if step >= len(plan) or frac < 0.2:
                return None
            if last_event is not None and time.monotonic() - last_event < EVENT_GAP:
                return None
            return plan[step]

        next_burst = time.monotonic() + 5
        while time.monotonic() < deadline:
            sent = sent_total()
            frac = sent / args.invoices
            mirrored = db_rows(
                "SELECT count(DISTINCT xero_payment_id) FROM account_payment "
                "WHERE xero_payment_id IS NOT NULL AND state NOT IN ('canceled', 'rejected')"
            )[0][0]
            if (
                sent >= args.invoices
                and len(paid) >= min(args.payments, args.invoices)
                and None not in paid.values()
                and mirrored >= len(paid)
            ):
                break  # the faults not made by then are missing from the SCALE line (exit 1)
            if sent and time.monotonic() >= next_burst and len(paid) < args.payments:
                threading.Thread(target=burst, daemon=True).start()
                next_burst = time.monotonic() + args.burst_every
            if due(frac) in ("kill", "server-kill"):
                if not armed:
                    # The next PUT /Invoices reaches Xero (stored) and its answer is held 8 s:
                    # the worst moment to die, Xero has the batch and Odoo does not know.
                    proxy.delay(8, method="PUT", path_prefix=INVOICES, times=1, after_forward=True)
                    armed = True
                # The cron worker holding a claim, while one of its PUTs is in flight.
                inflight = [
                    r
                    for r in list(proxy.requests)
                    if r.method == "PUT" and r.path == INVOICES and not r.ended and r.upstream_s
                ]
                pids = claim_holders(db_rows, server) if inflight else []
                if inflight and pids:
                    pid = pids[0]
                    sending = db_rows(
                        "SELECT id, xero_attempt_key, xero_connection_id FROM account_move "
                        "WHERE xero_state = 'sending'"
                    )
                    hwm[pid] = max(hwm.get(pid, 0), vm_hwm_kb(pid))
                    exporters.add(pid)
                    what, owner, up = due(frac), server.owner(pid), {}
                    if what == "server-kill" and owner:
                        # The whole server: master, HTTP, cron and gevent workers at once (a
                        # machine lost); started again at once, beside the run.
                        for child in owner.children():
                            hwm[child] = max(hwm.get(child, 0), vm_hwm_kb(child))
                        os.killpg(owner.proc.pid, signal.SIGKILL)
                        owner.proc.wait(30)
                        t_kill, t_kill_wall = time.monotonic(), time.time()

                        def again(owner=owner, t_kill=t_kill, up=up):
                            owner.start()
                            up["t"] = time.monotonic() - t_kill

                        threading.Thread(target=again, daemon=True).start()
                        server_kills += 1
                        log(
                            f"server kill {server_kills}: SIGKILL server :{owner.http_port} "
                            f"(its cron worker {pid} held {len(sending)} sending), restarting it"
                        )
                    else:
                        what = "kill"
                        os.kill(pid, signal.SIGKILL)
                        t_kill, t_kill_wall = time.monotonic(), time.time()
                        kills += 1
                        log(f"kill {kills}: SIGKILL cron worker {pid} ({len(sending)} sending)")
                    allowed = calls_allowed_after()
                    claim_paused = calls_allowed_after({r[2] for r in sending}) if sending else 0
                    last_event = t_kill
                    armed = False
                    resolved = None
                    end = time.monotonic() + 300
                    ids = [r[0] for r in sending] or [0]
                    keys = [r[1] for r in sending] or [""]
                    while time.monotonic() < end:
                        left = db_rows(
                            "SELECT count(*) FROM account_move WHERE id = ANY(%s) "
                            "AND xero_state = 'sending' AND xero_attempt_key = ANY(%s)",
                            [ids, keys],
                        )[0][0]
                        if not left:
                            resolved = time.monotonic() - t_kill
                            break
                        time.sleep(0.2)
                    moved = wait_moved_after(t_kill)
                    job = job_started_after(t_kill_wall)
                    events.append(
                        (
                            what,
                            t_kill - t_run,
                            len(sending),
                            resolved,
                            moved,
                            job,
                            allowed,
                            claim_paused,
                            up,
                        )
                    )
                    log(
                        f"  claim resolved after {resolved}s, export job running again after "
                        f"{job}s, calls allowed after {allowed:.1f}s, next call after {moved}s"
                    )
                    continue
            if due(frac) == "restart":
                # One server (in turn) stopped gracefully and started again; the others run on.
                target = server.servers[restarts % len(server.servers)]
                for pid in server.children():
                    hwm[pid] = max(hwm.get(pid, 0), vm_hwm_kb(pid))
                t_r, t_r_wall = time.monotonic(), time.time()
                allowed = calls_allowed_after()
                target.stop()
                t_down = time.monotonic() - t_r
                t_launch, t_launch_wall = time.monotonic(), time.time()
                target.start()
                restarts += 1
                last_event = t_r
                t_up = time.monotonic() - t_r
                log(f"restart {restarts}: stopped in {t_down:.0f}s, answering after {t_up:.0f}s")
                # From the SIGTERM on: the new server's first export job and Xero call.
                moved = wait_moved_after(t_launch)
                moved = None if moved is None else moved + (t_launch - t_r)
                job = job_started_after(t_launch_wall)
                job = None if job is None else job + (t_launch_wall - t_r_wall)
                events.append(("restart", t_r - t_run, t_down, t_up, moved, job, allowed))
                log(f"  export job running again after {job}s, next call after {moved}s")
                continue
            time.sleep(0.5)
        t_end = time.monotonic()
        stop.set()
        progress()
        timed_out = t_end >= deadline
        # --- let the last webhook processing settle, then stop the server
        for pid in server.children():
            hwm[pid] = max(hwm.get(pid, 0), vm_hwm_kb(pid))
        server.stop()

        # --- figures
        with registry.cursor() as cr:
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
                [list(paid) or [0]],
            )
            paid_in_odoo = cr.fetchone()[0]
        per_tenant_calls = proxy.per_tenant()
        with open(CALLS, "w") as f:  # the timeline behind the figures, for reading afterwards
            f.write("# seconds since the run began: tenant method path action (answered after)\n")
            f.writelines(
                f"{r.started - t_run:8.2f} {r.tenant} {r.method} {r.path} {r.action} "
                f"({r.ended - r.started if r.ended else -1:.2f}s)\n"
                for r in sorted(proxy.requests, key=lambda r: r.started)
            )
            f.writelines(f"{at:8.2f} EVENT {ev[0]}\n" for ev in events for at in [ev[1]])
        if args.inject_fault:  # after the server stopped: nothing can repair it
            fault = h.inject_fault(
                args.inject_fault, registry, xl, orgs[0]["tenant"], orgs[0]["move_ids"]
            )
        rows_out = []
        duplicates = missing = 0
        windows = []
        ratios = []
        for org, n in zip(orgs, per_org, strict=True):
            t = org["tenant"]
            xero_invs = h.xero_invoices(xl, t)
            odoo_rows = h.odoo_invoices(registry, org["move_ids"])
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
            reqs = [r for r in list(proxy.requests) if r.tenant == t]
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
            seq = samples[t]
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
        payments = sum(1 for pid in paid.values() if pid and pid in live)
        sent = sum(v.get("sent", 0) for v in states.values())
        exp_hwm = max((v for p, v in hwm.items() if p in exporters), default=0) / 1024
        all_hwm = max(hwm.values(), default=0) / 1024
        checks(
            "payments mirrored",
            payments == len(paid) == min(args.payments, args.invoices)
            and paid_in_odoo == len(paid),
            f"{len(paid)} made in Xero of {args.payments} asked, {payments} mirrored, "
            f"{paid_in_odoo} invoices paid in Odoo",
        )
        checks("payments doubled", not doubled, f"{doubled} mirrored more than once")
        checks(
            "webhook bursts acknowledged",
            not unacked,
            f"{unacked} bursts not answered 200 within 300 s; answers {json.dumps(answers)}",
        )
        checks(
            "scenario complete",
            kills >= args.kills
            and restarts >= args.restarts
            and server_kills >= args.server_kills
            and not timed_out,
            f"{kills} of {args.kills} kills, {restarts} of {args.restarts} restarts, "
            f"{server_kills} of {args.server_kills} server kills"
            + (", TIMED OUT" if timed_out else ""),
        )

    print(
        f"\nscale: {args.invoices} invoices, {k} organisations, {args.servers} Odoo prefork "
        f"server(s) on one database, each --workers {args.workers} --max-cron-threads "
        f"{args.cron_threads}; Xero limits per organisation: "
        f"{args.per_minute} calls/sliding minute, {args.per_day}/day, {args.concurrent} "
        f"concurrent (429 + Retry-After beyond)"
    )
    print(f"  queued by {len(jobs)} users over XML-RPC (action_xero_send) in {t_queued:.1f}s")
    for row in rows_out:
        print(row)
    for ev in events:
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
        f"  payments: {len(paid)} made in Xero and announced by webhook (each burst posted "
        f"twice); {payments} mirrored once, {doubled} doubled; {paid_in_odoo} invoices paid in "
        f"Odoo"
    )
    print(
        f"  peak RSS (VmHWM) of the exporting processes (cron workers that held a claim, "
        f"{len(exporters)} pids): {exp_hwm:.0f} MB; of any worker process: {all_hwm:.0f} MB "
        f"(none of them created the data)"
    )
    print(f"  run {t_end - t_run:.0f}s{' (TIMED OUT)' if timed_out else ''}")
    print(f"  total: {total_text}")
    print(f"    ({h.BOUND_FORMULA})")
    if args.inject_fault:
        print(f"  INJECTED FAULT {args.inject_fault}: {fault}")
    code = checks.report()
    valid = [r for r in ratios if r is not None]
    print(
        f"SCALE servers={args.servers} invoices={args.invoices} sent={sent} "
        f"duplicates={duplicates} missing={missing} orgs={k} payments_expected={len(paid)} "
        f"payments={payments} doubled={doubled} "
        f"ratio_per_org={f'{min(valid):.2f}' if valid else 'n/a'} "
        f"ratio_total={'n/a' if ratio_total is None else f'{ratio_total:.2f}'} kills={kills} "
        f"restarts={restarts} server_kills={server_kills} checks={'ok' if not code else 'FAILED'}"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
