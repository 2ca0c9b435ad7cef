"""The scale bench's faults, made one after the other during the run: a cron worker SIGKILLed
while one of its PUT /Invoices is in flight (``kill``), a whole server SIGKILLed in that same
moment and started again (``server-kill``), one server stopped gracefully and started again
(``restart``); and what each cost (claim resolved, export job running again, next Xero call)."""

import os
import signal
import threading
import time

from _scale_run import INVOICES, log
from _servers import claim_holders

EVENT_GAP = 20  # seconds at least between two faults (kills, restarts)


def plan_of(args):
    """The faults in their order. One server: kills and restarts alternate, kills first.
    Several: a server kill first (with work in flight), then the others the same way."""
    plan = []
    for i in range(max(args.kills, args.restarts, args.server_kills)):
        if args.servers > 1:
            plan += ["server-kill"] * (i < args.server_kills)
        plan += ["kill"] * (i < args.kills) + ["restart"] * (i < args.restarts)
        if args.servers <= 1:
            plan += ["server-kill"] * (i < args.server_kills)
    return plan


class Faults:
    """The plan and what was made of it. The first fault once 20% of the invoices are sent,
    each next one at least EVENT_GAP s after the last, so that they fall into different
    minutes of Xero's budget (by progress alone they bunched at the start of one minute, when
    the export resumes after a pause)."""

    def __init__(self, run):
        self.run = run
        self.plan = plan_of(run.args)
        self.kills = self.restarts = self.server_kills = 0
        self.last_event = None
        self.armed = False

    def due(self, frac):
        step = self.kills + self.restarts + self.server_kills
        if step >= len(self.plan) or frac < 0.2:
            return None
        if self.last_event is not None and time.monotonic() - self.last_event < EVENT_GAP:
            return None
        return self.plan[step]

    def step(self, frac):
        """Make the fault due now, if any can be made; True when one was made."""
        what = self.due(frac)
        if what in ("kill", "server-kill"):
            return self._kill(what)
        if what == "restart":
            self._restart()
            return True
        return False

    def _kill(self, what):
        run, proxy, server = self.run, self.run.proxy, self.run.server
        if not self.armed:
            # The next PUT /Invoices reaches Xero (stored) and its answer is held 8 s:
            # the worst moment to die, Xero has the batch and Odoo does not know.
            proxy.delay(8, method="PUT", path_prefix=INVOICES, times=1, after_forward=True)
            self.armed = True
        # The cron worker holding a claim, while one of its PUTs is in flight.
        inflight = [
            r
            for r in list(proxy.requests)
            if r.method == "PUT" and r.path == INVOICES and not r.ended and r.upstream_s
        ]
        pids = claim_holders(run.db_rows, server) if inflight else []
        if not (inflight and pids):
            return False
        pid = pids[0]
        sending = run.db_rows(
            "SELECT id, xero_attempt_key, xero_connection_id FROM account_move "
            "WHERE xero_state = 'sending'"
        )
        run.note_hwm([pid])
        run.exporters.add(pid)
        owner, up = server.owner(pid), {}
        if what == "server-kill" and owner:
            # The whole server: master, HTTP, cron and gevent workers at once (a machine
            # lost); started again at once, beside the run.
            run.note_hwm(owner.children())
            os.killpg(owner.proc.pid, signal.SIGKILL)
            owner.proc.wait(30)
            t_kill, t_kill_wall = time.monotonic(), time.time()

            def again(owner=owner, t_kill=t_kill, up=up):
                owner.start()
                up["t"] = time.monotonic() - t_kill

            threading.Thread(target=again, daemon=True).start()
            self.server_kills += 1
            log(
                f"server kill {self.server_kills}: SIGKILL server :{owner.http_port} "
                f"(its cron worker {pid} held {len(sending)} sending), restarting it"
            )
        else:
            what = "kill"
            os.kill(pid, signal.SIGKILL)
            t_kill, t_kill_wall = time.monotonic(), time.time()
            self.kills += 1
            log(f"kill {self.kills}: SIGKILL cron worker {pid} ({len(sending)} sending)")
        allowed = run.calls_allowed_after()
        claim_paused = run.calls_allowed_after({r[2] for r in sending}) if sending else 0
        self.last_event = t_kill
        self.armed = False
        resolved = None
        end = time.monotonic() + 300
        ids = [r[0] for r in sending] or [0]
        keys = [r[1] for r in sending] or [""]
        while time.monotonic() < end:
            left = run.db_rows(
                "SELECT count(*) FROM account_move WHERE id = ANY(%s) "
                "AND xero_state = 'sending' AND xero_attempt_key = ANY(%s)",
                [ids, keys],
            )[0][0]
            if not left:
                resolved = time.monotonic() - t_kill
                break
            time.sleep(0.2)
        moved = run.wait_moved_after(t_kill)
        job = run.job_started_after(t_kill_wall)
        at = t_kill - run.t_run
        run.events.append((what, at, len(sending), resolved, moved, job, allowed, claim_paused, up))
        log(
            f"  claim resolved after {resolved}s, export job running again after "
            f"{job}s, calls allowed after {allowed:.1f}s, next call after {moved}s"
        )
        return True

    def _restart(self):
        # One server (in turn) stopped gracefully and started again; the others run on.
        run, server = self.run, self.run.server
        target = server.servers[self.restarts % len(server.servers)]
        run.note_hwm(server.children())
        t_r, t_r_wall = time.monotonic(), time.time()
        allowed = run.calls_allowed_after()
        target.stop()
        t_down = time.monotonic() - t_r
        t_launch, t_launch_wall = time.monotonic(), time.time()
        target.start()
        self.restarts += 1
        self.last_event = t_r
        t_up = time.monotonic() - t_r
        log(
            f"restart {self.restarts}: server :{target.http_port} stopped in {t_down:.0f}s, "
            f"answering after {t_up:.0f}s"
        )
        # From the SIGTERM on: the new server's first export job and Xero call.
        moved = run.wait_moved_after(t_launch)
        moved = None if moved is None else moved + (t_launch - t_r)
        job = run.job_started_after(t_launch_wall)
        job = None if job is None else job + (t_launch_wall - t_r_wall)
        run.events.append(("restart", t_r - run.t_run, t_down, t_up, moved, job, allowed))
        log(f"  export job running again after {job}s, next call after {moved}s")
