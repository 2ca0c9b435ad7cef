"""The scale bench's live run: what it watches while the servers work (per organisation paused /
in a Xero call / other, the exporting processes and their peak RSS, progress, when the export
moves again after a fault) and the payments it makes in Xero and announces by webhook."""

import re
import sys
import threading
import time

import _harness as h
from _scale_setup import KEY, xero_direct
from _servers import LOG, claim_holders, vm_hwm_kb
from casemgr_xero_testing.webhook import build_event, build_payload, signed_post

INVOICES = h.API + "/Invoices"
CONTACTS = h.API + "/Contacts"
CALLS = h.REPO / ".cache" / "bench-scale-calls.log"  # every Xero call, per organisation
JOB_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \d+ INFO \S+ "
    r"odoo\.addons\.base\.models\.ir_cron: Job 'Xero: export queued invoices' "
    r"\(\d+\) starting"
)


def secs(value, none="none"):
    return none if value is None else f"{value:.1f}s"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Run:
    """The state of one run, shared by the scenario, its sampler and its webhook bursts."""

    def __init__(self, args, registry, xl, proxy, server, orgs):
        self.args, self.registry, self.xl, self.proxy = args, registry, xl, proxy
        self.server, self.orgs = server, orgs
        self.stop = threading.Event()
        self.samples = {o["tenant"]: [] for o in orgs}  # (monotonic, kind)
        self.hwm = {}  # pid -> VmHWM kB, of every worker process seen
        self.exporters = set()  # pids that held an export claim (the exporting processes)
        self.state = {"first_put": {}, "last_put": {}}
        self.paid = {}  # move id -> Xero PaymentID
        self.pay_lock = threading.Lock()
        self.answers = {}  # webhook POST answers by status ("None": no answer, server down)
        self.unacked = 0  # bursts never answered 200 (Xero would give up on them)
        self.burst_size = 1  # per organisation and burst: payments keep arriving during the run
        self.events = []  # the faults made: (what, t, details...)
        self.t_run = time.monotonic()

    def db_rows(self, sql, params=()):
        with self.registry.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall()

    def note_hwm(self, pids):
        for pid in pids:
            self.hwm[pid] = max(self.hwm.get(pid, 0), vm_hwm_kb(pid))

    # ------------------------------------------------------------------ watching
    def sampler(self):
        """Per organisation, paused for limits / in a Xero call / anything else."""
        step = 0.5
        while not self.stop.wait(step):
            try:
                rows = self.db_rows(
                    "SELECT tenant_id, not_before > (now() at time zone 'utc') FROM xero_connection"
                )
            except Exception:  # noqa: BLE001 - the database is shared with the run
                continue
            paused = {t: bool(p) for t, p in rows}
            inflight = {r.tenant for r in list(self.proxy.requests) if r.tenant and not r.ended}
            now = time.monotonic()
            for t in self.samples:
                kind = "in_call" if t in inflight else "paused" if paused.get(t) else "other"
                self.samples[t].append((now, kind))
            try:
                self.exporters.update(claim_holders(self.db_rows, self.server))
            except Exception:  # noqa: BLE001 - the database is shared with the run
                pass
            self.note_hwm(self.server.children())

    def progress(self):
        """Progress, from the proxy (PUT /Invoices answered 200) and the database."""
        state = self.state
        for r in list(self.proxy.requests):
            if r.method == "PUT" and r.path == INVOICES and r.action == "forward" and r.ended:
                state["first_put"].setdefault(r.tenant, r.ended)
                state["last_put"][r.tenant] = max(state["last_put"].get(r.tenant, 0), r.ended)
        rows = self.db_rows(
            "SELECT xero_connection_id, xero_state, count(*) FROM account_move "
            "WHERE move_type = 'out_invoice' AND xero_connection_id IS NOT NULL GROUP BY 1, 2"
        )
        by = {}
        for conn_id, st, n in rows:
            by.setdefault(conn_id, {})[st] = n
        return by

    def sent_total(self):
        return sum(v.get("sent", 0) for v in self.progress().values())

    def wait_moved_after(self, t, limit=600):
        """Seconds from ``t`` to the export's first Xero call after it (a PUT /Invoices,
        or the GET /Invoices lookup that resolves a dead claim)."""
        end = time.monotonic() + limit
        while time.monotonic() < end and not self.stop.is_set():
            starts = [
                r.started
                for r in list(self.proxy.requests)
                if r.path == INVOICES and r.action == "forward" and r.started > t
            ]
            if starts:
                return min(starts) - t
            if self.sent_total() >= self.args.invoices:
                return None
            time.sleep(0.2)
        return None

    def job_started_after(self, t_wall, limit=300):
        """Seconds from wall time ``t_wall`` to the next start of the export cron job
        (Odoo's own log line: a cron worker took the job), None if none within ``limit``."""
        end = time.monotonic() + limit
        while time.monotonic() < end and not self.stop.is_set():
            with open(LOG) as f:
                for line in f:
                    m = JOB_LINE.match(line)
                    if not m:
                        continue
                    ts = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
                    ts += int(m.group(2)) / 1000
                    if ts >= t_wall:
                        return ts - t_wall
            if self.sent_total() >= self.args.invoices:
                return None
            time.sleep(0.2)
        return None

    def calls_allowed_after(self, conn_ids=None):
        """Seconds until Xero's limits let the export call again (``not_before``, the pause
        every worker shares): the first organisation with work left, or, given
        ``conn_ids``, the last of those (a dead claim is looked up in Xero: a call)."""
        where = "c.id = ANY(%s)" if conn_ids else "c.state = 'connected'"
        rows = self.db_rows(
            f"SELECT {'max' if conn_ids else 'min'}(greatest(0, extract(epoch FROM "
            "coalesce(c.not_before, now() at time zone 'utc') - (now() at time zone 'utc'))))"
            f" FROM xero_connection c WHERE {where} AND EXISTS ("
            "SELECT 1 FROM account_move m WHERE m.xero_connection_id = c.id "
            "AND m.xero_state IN ('queued', 'sending'))",
            [list(conn_ids)] if conn_ids else [],
        )
        return float(rows[0][0] or 0)

    # ------------------------------------------------------------------ payments
    def burst(self):
        """Pay some already-sent invoices in Xero (a Xero user, on the emulator directly) and
        announce them in a signed webhook burst, posted twice, to the next server in turn."""
        rows = self.db_rows(
            "SELECT id, xero_connection_id, xero_invoice_id, amount_total FROM account_move "
            "WHERE xero_state = 'sent' AND move_type = 'out_invoice' ORDER BY random()"
        )
        conn_tenant = {o["conn_id"]: o["tenant"] for o in self.orgs}
        per_conn = {}
        for move_id, conn_id, xero_id, total in rows:
            with self.pay_lock:
                if move_id in self.paid or len(self.paid) >= self.args.payments:
                    continue
            lst = per_conn.setdefault(conn_id, [])
            if len(lst) < self.burst_size:
                lst.append((move_id, xero_id, total))
        for conn_id, items in per_conn.items():
            tenant = conn_tenant[conn_id]
            events = []
            for move_id, xero_id, total in items:
                with self.pay_lock:
                    if len(self.paid) >= self.args.payments:
                        break
                    self.paid[move_id] = None
                payment = {
                    "Invoice": {"InvoiceID": xero_id},
                    "Account": {"Code": "090"},
                    "Date": "2019-01-05",
                    "Amount": float(total),
                }
                try:
                    pay = xero_direct(self.xl, tenant).create_payment(payment)
                except Exception as exc:  # noqa: BLE001 - reported, not counted
                    log(f"payment in Xero failed: {exc}")
                    with self.pay_lock:
                        del self.paid[move_id]
                    continue
                self.paid[move_id] = pay["PaymentID"]
                events.append(build_event(xero_id, tenant_id=tenant))
            if events:
                self._announce(conn_id, events)

    def _announce(self, conn_id, events):
        # Every burst is posted twice (Xero redelivers), and again until it is acknowledged
        # (as Xero retries while the server restarts).
        for _ in range(2):
            end = time.monotonic() + 300
            status = None
            while time.monotonic() < end:
                try:  # the next server in turn (a load balancer's round robin)
                    status, _b = signed_post(
                        f"{self.server.url()}/xero/webhook/{conn_id}",
                        build_payload(events),
                        KEY,
                    )
                except OSError:
                    status = None
                with self.pay_lock:
                    self.answers[str(status)] = self.answers.get(str(status), 0) + 1
                if status == 200:
                    break
                time.sleep(2)
            if status != 200:
                log(f"webhook not acknowledged: {status}")
                with self.pay_lock:
                    self.unacked += 1
