# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Customer invoices → Xero, in batches of 50, exactly once.

State machine (``xero_state``): not_sent → queued → sending → sent | failed; ``csv`` marks an
invoice exported by the legacy CSV wizard (imported into Xero by hand), never sent by the API.
The cron claims a batch (row locks that skip rows another worker holds, ``queued`` →
``sending`` with an attempt key) and commits before the HTTP call; the results are written
only onto rows that still carry that attempt key. A batch whose outcome is unknown (dropped
connection, timeout, crash) is sent again only after a lookup by InvoiceNumber in Xero has
bound what Xero already has. A claim stays ``sending`` exactly as long as its claimant lives
(see ``_xero_claim_alive_tokens``): a killed worker's batch is looked up by the next run.
"""

import logging
import threading
import time
import uuid
from datetime import timedelta

import psycopg2
from casemgr_xero_core import export as xero_export
from casemgr_xero_core import mapping
from casemgr_xero_core.batching import chunks
from casemgr_xero_core.errors import AuthError, NotFound, RateLimited, XeroError
from casemgr_xero_core.payments import ODOO_ACTIVE, diff_payments, payment_data
from markupsafe import Markup
from psycopg2.extras import execute_values

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_is_zero, formatLang, html_escape

from .xero_connection import short_transaction

_logger = logging.getLogger(__name__)

BATCH_SIZE = 50
# pg_advisory_xact_lock(CLAIM_LOCK, token of the attempt key): held by a claimant while it lives.
CLAIM_LOCK = 0x58434C4D  # "XCLM"
CONTACT_SYNC = timedelta(minutes=10)
# A cron run ends after about this long, re-triggering itself when work remains: it stays well
# inside Odoo's limit_time_real (120 s by default; a prefork cron worker past it is killed), and
# a graceful server stop, which waits for running jobs, is not held up for long.
RUN_SECONDS = 30
# A pause up to this long (Xero's minute window) is waited out inside the run: a delayed
# ir.cron.trigger only fires at the cron workers' next poll (every 60 s + pid % 10), which would
# cost up to one more minute per window. A longer pause (day limit) re-triggers at its end.
MAX_INLINE_WAIT = 65
CONTACT_LOCK = 0x5845524F  # pg_advisory_xact_lock(CONTACT_LOCK, connection id): "XERO"
XERO_WEB_INVOICE_URL = "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID=%s"


class AccountMove(models.Model):
    _inherit = "account.move"

    xero_state = fields.Selection(
        [
            ("not_sent", "Not sent"),
            ("queued", "Queued"),
            ("sending", "Sending"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("csv", "Exported by CSV"),
        ],
        string="Xero",
        default="not_sent",
        copy=False,
        index=True,
    )
    xero_invoice_id = fields.Char(string="Xero InvoiceID", copy=False, index=True, readonly=True)
    xero_connection_id = fields.Many2one("xero.connection", copy=False, index=True, readonly=True)
    xero_sent_at = fields.Datetime(string="Sent to Xero", copy=False, readonly=True)
    xero_error = fields.Text(copy=False, readonly=True)
    xero_attempt_key = fields.Char(copy=False, readonly=True)
    xero_attempt_at = fields.Datetime(copy=False, readonly=True)
    xero_outcome_unknown = fields.Boolean(
        copy=False,
        readonly=True,
        help="A previous attempt may have reached Xero: look it up before sending again.",
    )
    xero_url = fields.Char(string="Open in Xero", compute="_compute_xero_url")

    @api.depends("xero_invoice_id")
    def _compute_xero_url(self):
        for move in self:
            move.xero_url = (
                XERO_WEB_INVOICE_URL % move.xero_invoice_id if move.xero_invoice_id else False
            )

    # ------------------------------------------------------------------
    # Queueing (buttons, server action, wizard)
    # ------------------------------------------------------------------
    def _xero_skip_reason(self, connections):
        """Why this move cannot be queued (None when it can)."""
        self.ensure_one()
        if self.move_type not in ("out_invoice", "out_refund"):
            return self.env._("not a customer invoice or credit note")
        if self.state != "posted":
            return self.env._("not posted")
        if self.xero_state == "sent":
            return self.env._("already in Xero")
        if self.xero_state in ("queued", "sending"):
            return self.env._("already queued")
        if self.xero_state == "csv":
            # Imported into Xero by hand from a CSV file: sending it too would duplicate it.
            return self.env._("already exported by CSV")
        conn = connections.get(self.company_id.id)
        if not conn:
            return self.env._("company %s has no Xero connection", self.company_id.name)
        if conn.state != "connected":
            return self.env._("the Xero connection of %s is not connected", self.company_id.name)
        return None

    def _xero_queue(self):
        """Queue what can be queued; return (queued moves, {reason: moves})."""
        connections = {
            c.company_id.id: c
            for c in self.env["xero.connection"].search([("company_id", "in", self.company_id.ids)])
        }
        queued = self.browse()
        skipped = {}
        for move in self:
            reason = move._xero_skip_reason(connections)
            if reason:
                skipped[reason] = skipped.get(reason, self.browse()) | move
            else:
                queued |= move
        for company_id, moves in queued.grouped(lambda m: m.company_id.id).items():
            moves.write(
                {
                    "xero_state": "queued",
                    "xero_connection_id": connections[company_id].id,
                    "xero_error": False,
                }
            )
            # Xero already knows some of them (e.g. a total mismatch): look up, never resend.
            moves.filtered("xero_invoice_id").xero_outcome_unknown = True
        if queued:
            self.env.ref("casemgr_xero.ir_cron_xero_export")._trigger()
        return queued, skipped

    def action_xero_send(self):
        """Send to Xero: queue the eligible moves; the export cron does the sending."""
        queued, skipped = self._xero_queue()
        lines = [self.env._("%s invoice(s) queued for Xero.", len(queued))]
        for reason, moves in skipped.items():
            names = ", ".join(moves[:5].mapped("display_name"))
            more = self.env._(" and %s more", len(moves) - 5) if len(moves) > 5 else ""
            lines.append(
                self.env._(
                    "%(count)s skipped (%(reason)s): %(names)s%(more)s",
                    count=len(moves),
                    reason=reason,
                    names=names,
                    more=more,
                )
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Send to Xero"),
                "message": "\n".join(lines),
                "type": "success" if queued and not skipped else "warning",
                "sticky": bool(skipped),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_xero_open(self):
        self.ensure_one()
        return {"type": "ir.actions.act_url", "url": self.xero_url, "target": "new"}

    # ------------------------------------------------------------------
    # Export cron
    # ------------------------------------------------------------------
    @api.model
    def _cron_xero_export(self, max_batches=20):
        """Export the queue of every connected organisation, in parallel.

        Odoo runs one cron job on one cron worker at a time (a row lock on ``ir_cron``): were
        the organisations exported one after the other here, a rate-limited or slow one would
        hold all the others up. Each organisation with work is therefore exported in a thread
        of its own, with its own database transaction (which holds its claims' liveness locks);
        nothing is shared between them but this run's time budget (``RUN_SECONDS``).
        """
        cron = self.env.ref("casemgr_xero.ir_cron_xero_export")
        conns = self.env["xero.connection"].search([("state", "=", "connected")])
        if self.env.registry.in_test_mode():
            # One transaction for the whole test: no threads, no waiting (a pause re-triggers).
            more = False
            for conn in conns:
                more |= self._xero_export_connection(conn, max_batches, cron)
        else:
            deadline = time.monotonic() + RUN_SECONDS
            if len(conns) > 1:
                self.env.cr.execute(
                    "SELECT DISTINCT xero_connection_id FROM account_move "
                    "WHERE xero_state IN ('queued', 'sending') AND xero_connection_id = ANY(%s)",
                    [conns.ids],
                )
                busy = {r[0] for r in self.env.cr.fetchall()}
                conns = conns.filtered(lambda c: c.id in busy)
            if len(conns) > 1:
                more = self._xero_export_parallel(conns, max_batches, deadline)
            else:
                more = any(
                    [
                        self._xero_export_connection(conn, max_batches, cron, deadline)
                        for conn in conns
                    ]
                )
        if more:
            cron._trigger()
        return True

    def _xero_export_parallel(self, conns, max_batches, deadline):
        """Export each of ``conns`` in a thread with its own cursor; True when work remains."""
        registry, uid, context = self.env.registry, self.env.uid, dict(self.env.context)
        dbname = self.env.cr.dbname
        results, errors = {}, []

        def export(conn_id):
            threading.current_thread().dbname = dbname
            try:
                with registry.cursor() as cr:
                    env = api.Environment(cr, uid, context)
                    results[conn_id] = env["account.move"]._xero_export_connection(
                        env["xero.connection"].browse(conn_id),
                        max_batches,
                        env.ref("casemgr_xero.ir_cron_xero_export"),
                        deadline,
                    )
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others end
                _logger.exception("Xero export for connection %s failed", conn_id)
                errors.append(exc)

        threads = [
            threading.Thread(target=export, args=(conn.id,), name=f"xero-export-{conn.id}")
            for conn in conns
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return any(results.values())

    def _xero_export_connection(self, conn, max_batches, cron, deadline=None):
        """Send up to ``max_batches`` batches for ``conn``; True when work remains now.

        With a ``deadline`` (``time.monotonic()``, cron runs) a pause of at most
        ``MAX_INLINE_WAIT`` is waited out here until the deadline; without one (tests) the run
        re-triggers the cron at the pause's end and returns.
        """
        batches = 0
        while batches < max_batches:
            if deadline and time.monotonic() >= deadline:
                return True
            wait = conn._xero_paused()
            if wait:
                if not deadline or wait > MAX_INLINE_WAIT:
                    cron._trigger(at=fields.Datetime.now() + timedelta(seconds=wait + 1))
                    return False
                time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
                continue
            key, moves = self._xero_claim_batch(conn)
            if not moves:
                return False
            batches += 1
            try:
                self._xero_send_batch(conn, key, moves)
            except RateLimited as exc:
                # Never assume nothing reached Xero: the next attempt looks up first.
                self._xero_release(key, moves, unknown=True)
                retry = max(exc.retry_after or 60.0, 1.0)
                conn._xero_pause_until(fields.Datetime.now() + timedelta(seconds=retry))
                if deadline and retry <= MAX_INLINE_WAIT:
                    continue
                cron._trigger(at=fields.Datetime.now() + timedelta(seconds=retry + 1))
                return False
            except AuthError as exc:
                self._xero_release(key, moves, unknown=True)
                with conn._xero_detached() as dconn:
                    dconn.env["xero.failure"]._xero_report("auth", dconn, str(exc), dconn)
                return False
            except XeroError as exc:
                # Transient (5xx, timeout, dropped connection): requeue, try again later.
                _logger.warning("Xero export for connection %s deferred: %s", conn.id, exc)
                self._xero_release(key, moves, unknown=True)
                cron._trigger(at=fields.Datetime.now() + timedelta(seconds=60))
                return False
        return True

    @staticmethod
    def _xero_claim_token(key):
        """The int4 advisory-lock token of an attempt key (the uuid's first 32 bits)."""
        token = int(key[:8], 16)
        return token - (1 << 32) if token >= (1 << 31) else token

    def _xero_claim_alive_tokens(self, cr):
        """Tokens (as PostgreSQL shows them in ``pg_locks.objid``, unsigned) of the claims whose
        claimant is alive.

        Liveness token: the claimant takes ``pg_advisory_xact_lock(CLAIM_LOCK, token)`` in its
        own transaction (the cron job's) before it commits the claim, and PostgreSQL releases it
        when that transaction ends: results written, error handled, or the backend gone because
        the worker was killed (SIGKILL, ``limit_time_real``, a server restart or crash). The lock
        lives in PostgreSQL, so this holds for every process and every Odoo server sharing the
        database; no clock or timeout is involved. Chosen over recording the claimant's backend
        pid + backend_start: Odoo pools connections, so a backend can outlive the work (or serve
        another cursor), whereas the lock is scoped to the very transaction doing the work.
        """
        cr.execute(
            """
            SELECT l.objid::text::bigint
              FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
               AND l.classid = %s AND d.datname = current_database()
            """,
            [CLAIM_LOCK],
        )
        return {r[0] for r in cr.fetchall()}

    @api.model
    def _xero_claim_batch(self, conn):
        """Atomically move up to 50 queued moves (or moves of a claim whose claimant died) to
        ``sending``; commit. The claimant's liveness lock is taken on the caller's transaction
        first, so a committed claim is never without it."""
        key = str(uuid.uuid4())
        token = self._xero_claim_token(key)
        now = fields.Datetime.now()
        self.env.flush_all()
        self.env.cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CLAIM_LOCK, token])
        with short_transaction(self.env.registry) as cr:
            # Dead claims: read the claims first, then the live locks. A claimant that ended in
            # between wrote its results first, so the row re-check of the UPDATE lock skips it.
            cr.execute(
                "SELECT DISTINCT xero_attempt_key FROM account_move "
                "WHERE xero_connection_id = %s AND xero_state = 'sending'",
                [conn.id],
            )
            claims = [r[0] for r in cr.fetchall()]
            dead = []
            if claims:
                alive = self._xero_claim_alive_tokens(cr)
                dead = [
                    k
                    for k in claims
                    if not k or self._xero_claim_token(k) & 0xFFFFFFFF not in alive
                ]
            cr.execute(
                """
                SELECT id, xero_state = 'sending' OR xero_outcome_unknown
                  FROM account_move
                 WHERE xero_connection_id = %s
                   AND (xero_state = 'queued'
                        OR (xero_state = 'sending'
                            AND (xero_attempt_key IS NULL OR xero_attempt_key = ANY(%s))))
                 ORDER BY id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
                """,
                [conn.id, [k for k in dead if k], BATCH_SIZE],
            )
            rows = cr.fetchall()
            if not rows:
                return key, self.browse()
            cr.execute(
                """
                UPDATE account_move
                   SET xero_state = 'sending', xero_attempt_key = %s, xero_attempt_at = %s,
                       xero_outcome_unknown = xero_outcome_unknown OR xero_state = 'sending'
                 WHERE id IN %s
                """,
                [key, now, tuple(r[0] for r in rows)],
            )
        # The caller's transaction (REPEATABLE READ) cannot see what this claim committed:
        # carry the "look up before sending" flags with the records.
        moves = self.browse([r[0] for r in rows]).with_context(
            xero_claim_unknown=frozenset(r[0] for r in rows if r[1])
        )
        moves.invalidate_recordset(
            ["xero_state", "xero_attempt_key", "xero_attempt_at", "xero_outcome_unknown"]
        )
        return key, moves

    def _xero_release(self, key, moves, unknown):
        """Put a claimed batch back in the queue (flagged when its outcome is unknown)."""
        self.env.flush_all()
        with short_transaction(self.env.registry) as cr:
            cr.execute(
                """
                UPDATE account_move
                   SET xero_state = 'queued',
                       xero_outcome_unknown = xero_outcome_unknown OR %s
                 WHERE id IN %s AND xero_attempt_key = %s AND xero_state = 'sending'
                """,
                [bool(unknown), tuple(moves.ids), key],
            )
        moves.invalidate_recordset(["xero_state", "xero_outcome_unknown"])

    def _xero_send_batch(self, conn, key, moves):
        """Validate, bind contacts, send invoices then credit notes, write every outcome.

        If Xero stops answering halfway, what is known is written first and the exception is
        re-raised: the caller puts the rest back in the queue flagged 'outcome unknown'.
        """
        unknown_ids = moves.env.context.get("xero_claim_unknown", frozenset())
        client = conn._xero_client()
        data, problems = self._xero_invoice_data(conn, moves)
        results = {}  # move id -> (state, Xero id, message)
        valid = self.browse()
        for move in moves:
            errors = problems.get(move.id, []) + mapping.validate_invoice(data[move.id])
            if errors:
                results[move.id] = ("failed", None, "\n".join(errors))
            else:
                valid |= move
        try:
            if valid:
                contact_errors = self._xero_resolve_contacts(conn, client, valid, data)
                for move_id, message in contact_errors.items():
                    results[move_id] = ("failed", None, message)
                sendable = valid.filtered(lambda m: m.id not in contact_errors)
                invoices = sendable.filtered(lambda m: m.move_type == "out_invoice")
                refunds = sendable - invoices
                prefix = conn.invoice_number_prefix or ""
                for group, payload_fn, send_fn, suffix in (
                    (invoices, mapping.invoice_payload, xero_export.send_invoice_batch, ""),
                    (
                        refunds,
                        mapping.credit_note_payload,
                        xero_export.send_credit_note_batch,
                        "-cn",
                    ),
                ):
                    if not group:
                        continue
                    items = send_fn(
                        client,
                        [payload_fn(data[m.id], prefix) for m in group],
                        key + suffix,
                        check_existing=conn.check_numbers
                        or any(m.xero_outcome_unknown or m.id in unknown_ids for m in group),
                    )
                    for move, item in zip(group, items, strict=True):
                        if item.ok:
                            results[move.id] = ("sent", item.xero_id, None)
                        elif item.retryable:
                            results[move.id] = ("queued", None, None)
                        else:
                            # A total mismatch keeps Xero's ID: the document exists there.
                            results[move.id] = (
                                "failed",
                                item.xero_id,
                                "\n".join(item.messages)
                                or self.env._("Xero refused this document."),
                            )
        finally:
            if results:
                self._xero_write_results(conn, key, moves, results)
        self._xero_allocate_credit_notes(conn, client, moves, results)

    def _xero_allocate_credit_notes(self, conn, client, moves, results):
        """Apply each credit note just created to its original invoice when that is in Xero."""
        for move in moves.filtered(lambda m: m.move_type == "out_refund"):
            state, credit_note_id, _msg = results.get(move.id, (None, None, None))
            origin = move.reversed_entry_id
            if state != "sent" or not origin.xero_invoice_id:
                continue
            if origin.xero_connection_id != conn:
                continue
            try:
                client.allocate_credit_note(
                    credit_note_id,
                    origin.xero_invoice_id,
                    min(move.amount_total, origin.amount_total),
                    fields.Date.to_string(move.invoice_date or move.date),
                )
            except XeroError as exc:
                message = self.env._(
                    "Credit note %(cn)s is in Xero but could not be allocated to invoice "
                    "%(inv)s there: %(msg)s. Allocate it in Xero.",
                    cn=move.name,
                    inv=origin.name,
                    msg=exc,
                )
                with conn._xero_detached() as dconn:
                    dconn.env["xero.failure"]._xero_report(
                        "invoice_export", move.with_env(dconn.env), message, dconn
                    )
                continue
            move.message_post(
                body=self.env._("Allocated in Xero to invoice %s.", origin.name),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )

    def _xero_write_results(self, conn, key, moves, results):
        """Write the batch's outcome in one short transaction, onto our claim only."""
        now = fields.Datetime.now()
        self.env.flush_all()
        with short_transaction(self.env.registry) as cr:
            rows = [
                (move_id, state, xero_id, message, state == "queued", now, key)
                for move_id, (state, xero_id, message) in results.items()
            ]
            execute_values(
                cr,
                """
                UPDATE account_move AS m
                   SET xero_state = v.state,
                       xero_invoice_id = COALESCE(v.xero_id, m.xero_invoice_id),
                       xero_error = v.message,
                       xero_sent_at = CASE WHEN v.state = 'sent' THEN v.now ELSE m.xero_sent_at END,
                       xero_outcome_unknown = v.unknown
                  FROM (VALUES %s) AS v(id, state, xero_id, message, unknown, now, key)
                 WHERE m.id = v.id AND m.xero_attempt_key = v.key AND m.xero_state = 'sending'
                """,
                rows,
                template="(%s, %s, %s, %s, %s, %s::timestamp, %s)",
                page_size=1000,
            )
            env = self.env(cr=cr, su=True)
            dmoves = env["account.move"].browse(list(results))
            sent = dmoves.filtered(lambda m: results[m.id][0] == "sent")
            failed = dmoves.filtered(lambda m: results[m.id][0] == "failed")
            failures = env["xero.failure"]
            failures._xero_resolve("invoice_export", sent)
            dconn = conn.with_env(env)
            for move in failed:
                failures._xero_report("invoice_export", move, results[move.id][2], dconn)
            bodies = {}
            for move in sent:
                url = XERO_WEB_INVOICE_URL % results[move.id][1]
                bodies[move.id] = self.env._(
                    'Sent to Xero (%(org)s): <a href="%(url)s" target="_blank">open in Xero</a>',
                    org=html_escape(conn.tenant_name or ""),
                    url=html_escape(url),
                )
            for move in failed:
                bodies[move.id] = self.env._(
                    "Xero refused this invoice: %s", html_escape(results[move.id][2])
                )
            if bodies:
                dmoves.browse(list(bodies))._message_log_batch(
                    bodies={k: Markup(v) for k, v in bodies.items()}
                )
        moves.invalidate_recordset()

    # ------------------------------------------------------------------
    # ORM → plain data
    # ------------------------------------------------------------------
    def _xero_invoice_data(self, conn, moves):
        """{move id: mapping.InvoiceData} for ``moves`` (read in bulk)."""
        account_codes = {
            m.account_id.id: m.xero_account_code
            for m in self.env["xero.account.mapping"].search([("connection_id", "=", conn.id)])
        }
        tax_types = {
            m.tax_id.id: m.xero_tax_type
            for m in self.env["xero.tax.mapping"].search([("connection_id", "=", conn.id)])
        }
        tracking_by_plan = {
            m.plan_id.id: m.xero_category
            for m in self.env["xero.tracking.mapping"].search([("connection_id", "=", conn.id)])
        }
        analytic_ids = {
            int(aid)
            for dist in moves.invoice_line_ids.mapped("analytic_distribution")
            if dist
            for key in dist
            for aid in str(key).split(",")
        }
        analytic = {a.id: a for a in self.env["account.analytic.account"].browse(analytic_ids)}
        result, errors = {}, {}
        for move in moves:
            partner = move.partner_id.commercial_partner_id
            lines = []
            problems = []
            taxes_seen = move.invoice_line_ids.tax_ids
            included = {t.price_include for t in taxes_seen}
            if not taxes_seen:
                amount_types = "NoTax"
            elif included == {True}:
                amount_types = "Inclusive"
            else:
                amount_types = "Exclusive"
                if True in included:
                    problems.append(
                        self.env._(
                            "Invoice %s mixes tax-included and tax-excluded prices (field Taxes): "
                            "Xero needs one or the other on an invoice.",
                            move.name,
                        )
                    )
            for line in move.invoice_line_ids.sorted("sequence"):
                if line.display_type in ("line_section", "line_note"):
                    lines.append(
                        mapping.LineData(
                            description=line.name or "",
                            quantity=None,
                            unit_amount=None,
                            line_amount=None,
                            kind="section" if line.display_type == "line_section" else "note",
                        )
                    )
                    continue
                if line.display_type != "product":
                    continue
                tax_type = None
                label = self.env._(
                    "Invoice %(inv)s, line %(n)s (%(desc)s)",
                    inv=move.name,
                    n=len(lines) + 1,
                    desc=(line.name or "")[:40],
                )
                if len(line.tax_ids) > 1:
                    problems.append(
                        self.env._(
                            "%s: Xero takes one tax rate per line; use a single (group) tax.", label
                        )
                    )
                elif line.tax_ids:
                    tax_type = tax_types.get(line.tax_ids.id)
                    if not tax_type:
                        tax_type = "UNMAPPED"  # reported below; the invoice is not sent
                        problems.append(
                            self.env._(
                                "%(label)s: tax %(tax)s has no Xero tax type (field Taxes; map it "
                                "under Invoicing > Configuration > Xero > Tax types).",
                                label=label,
                                tax=line.tax_ids.name,
                            )
                        )
                elif amount_types != "NoTax":
                    tax_type = "NONE"
                tracking = []
                for key in line.analytic_distribution or {}:
                    for aid in str(key).split(","):
                        account = analytic.get(int(aid))
                        category = account and tracking_by_plan.get(account.root_plan_id.id)
                        if category and (category, account.name) not in tracking:
                            tracking.append((category, account.name))
                if len(tracking) > 2:
                    problems.append(
                        self.env._(
                            "%s: Xero takes two tracking categories per line at most "
                            "(field Analytic).",
                            label,
                        )
                    )
                line_amount = (
                    line.price_total if amount_types == "Inclusive" else line.price_subtotal
                )
                lines.append(
                    mapping.LineData(
                        description=line.name or line.product_id.display_name or "",
                        quantity=line.quantity,
                        unit_amount=line.price_unit,
                        line_amount=line_amount,
                        discount_rate=line.discount or None,
                        account_code=account_codes.get(
                            line.account_id.id, line.account_id.with_company(move.company_id).code
                        ),
                        tax_type=tax_type,
                        tax_amount=line.price_total - line.price_subtotal,
                        tracking=tracking,
                    )
                )
            rate = None
            if move.currency_id != move.company_id.currency_id and not float_is_zero(
                move.invoice_currency_rate or 0.0, precision_digits=10
            ):
                rate = move.invoice_currency_rate
            result[move.id] = mapping.InvoiceData(
                key=str(move.id),
                number=move.name,
                reference=move.ref or move.payment_reference or None,
                date=move.invoice_date,
                due_date=move.invoice_date_due or move.invoice_date,
                currency=move.currency_id.name,
                currency_rate=rate,
                line_amount_types=amount_types,
                lines=lines,
                contact=mapping.ContactData(
                    key=str(partner.id),
                    name=partner.name or "",
                    email=partner.email or None,
                    contact_number=partner.ref or None,
                ),
                status=conn.invoice_status,
                total=move.amount_total,
            )
            if move.currency_id.is_zero(move.amount_total):
                problems.append(
                    self.env._(
                        "Invoice %s: the total is zero (field Total); it is not sent to Xero.",
                        move.name,
                    )
                )
            if problems:
                errors[move.id] = problems
        return result, errors

    def _xero_resolve_contacts(self, conn, client, moves, data):
        """Bind every partner of ``moves`` to a Xero ContactID (few calls per batch).

        Returns {move id: message} for moves whose contact could not be resolved.
        """
        Binding = self.env["xero.contact"].sudo()
        partners = moves.partner_id.commercial_partner_id
        bindings = {
            b.partner_id.id: b.xero_contact_id
            for b in Binding.search(
                [("connection_id", "=", conn.id), ("partner_id", "in", partners.ids)]
            )
        }
        missing = partners.filtered(lambda p: p.id not in bindings and p.name)
        if missing:
            # One worker at a time looks up / creates a connection's contacts, and commits the
            # bindings before the next one looks: two workers never create the same contact.
            with short_transaction(self.env.registry) as lock_cr:
                lock_cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CONTACT_LOCK, conn.id])
                self._xero_create_contacts(
                    conn, client, missing, bindings, self.env(cr=lock_cr, su=True)
                )
        errors = {}
        for move in moves:
            partner = move.partner_id.commercial_partner_id
            contact_id = bindings.get(partner.id)
            if contact_id:
                data[move.id].contact.xero_contact_id = contact_id
            else:
                errors[move.id] = self.env._(
                    "Invoice %(inv)s: customer %(partner)s could not be matched or created "
                    "in Xero (field Customer).",
                    inv=move.name,
                    partner=partner.display_name or self.env._("(no name)"),
                )
        return errors

    def _xero_create_contacts(self, conn, client, missing, bindings, lock_env):
        """Bind ``missing`` partners: match the organisation's contacts we know (refreshed at
        most every CONTACT_SYNC), else create them in batches. Runs under the contact lock in
        ``lock_env``'s short transaction, which commits the new bindings."""
        Contact = lock_env["xero.contact"]
        for b in Contact.search(
            [("connection_id", "=", conn.id), ("partner_id", "in", missing.ids)]
        ):
            bindings[b.partner_id.id] = b.xero_contact_id  # bound meanwhile by another worker
        missing = missing.filtered(lambda p: p.id not in bindings)
        if not missing:
            return
        lconn = conn.with_env(lock_env)
        now = fields.Datetime.now()
        if not lconn.contacts_synced_at or lconn.contacts_synced_at < now - CONTACT_SYNC:
            self._xero_sync_contact_directory(lconn, client)
        to_create = self._xero_match_contacts(lconn, missing, bindings)
        if to_create:
            failed = self._xero_post_contacts(lconn, client, to_create, bindings)
            if failed:
                # Xero refuses a second contact of the same name: someone may have made it
                # since our last read. Read again, match again; the rest stay unresolved.
                self._xero_sync_contact_directory(lconn, client)
                self._xero_match_contacts(lconn, failed, bindings)

    def _xero_sync_contact_directory(self, conn, client):
        """Upsert the contacts Xero changed since the last read (all of them the first time)."""
        started = fields.Datetime.now()
        since = conn.contacts_synced_at
        contacts = client.list_contacts(if_modified_since=since)
        Contact = conn.env["xero.contact"]
        known = {
            c.xero_contact_id: c
            for c in Contact.search(
                [
                    ("connection_id", "=", conn.id),
                    ("xero_contact_id", "in", [c["ContactID"] for c in contacts]),
                ]
            )
        }
        new_vals = []
        for contact in contacts:
            vals = {
                "name": contact.get("Name") or False,
                "email": contact.get("EmailAddress") or False,
                "contact_number": contact.get("ContactNumber") or False,
            }
            row = known.get(contact["ContactID"])
            if row:
                if any((row[k] or False) != v for k, v in vals.items()):
                    row.write(vals)
            else:
                new_vals.append(
                    {"connection_id": conn.id, "xero_contact_id": contact["ContactID"], **vals}
                )
                known[contact["ContactID"]] = True
        if new_vals:
            Contact.create(new_vals)
        conn.contacts_synced_at = started

    def _xero_match_contacts(self, conn, partners, bindings):
        """Bind each partner to the one unbound Xero contact with its reference, else e-mail,
        else name (never a guess between two); return the partners left to create."""
        Contact = conn.env["xero.contact"]
        free = Contact.search([("connection_id", "=", conn.id), ("partner_id", "=", False)])

        def index(fname):
            out = {}
            for contact in free:
                value = (contact[fname] or "").strip().lower()
                if value:
                    out.setdefault(value, []).append(contact)
            return out

        tables = (index("contact_number"), index("email"), index("name"))
        taken = set()
        to_create = self.env["res.partner"]
        for partner in partners:
            candidates = []
            for table, value in zip(
                tables, (partner.ref, partner.email, partner.name), strict=True
            ):
                value = (value or "").strip().lower()
                candidates = [c for c in table.get(value, []) if c.id not in taken]
                if value and candidates:
                    break
            if len(candidates) == 1:
                taken.add(candidates[0].id)
                candidates[0].partner_id = partner.id
                bindings[partner.id] = candidates[0].xero_contact_id
            else:
                to_create |= partner
        return to_create

    def _xero_post_contacts(self, conn, client, partners, bindings):
        """Create ``partners`` in Xero in batches of 50; return those Xero refused."""
        Contact = conn.env["xero.contact"]
        failed = self.env["res.partner"]
        for chunk in chunks(list(partners), BATCH_SIZE):
            payloads = [
                mapping.contact_payload(
                    mapping.ContactData(
                        key=str(p.id),
                        name=p.name,
                        email=p.email or None,
                        contact_number=p.ref or None,
                    )
                )
                for p in chunk
            ]
            created = []
            for partner, item in zip(chunk, client.create_contacts(payloads), strict=True):
                if item.ok:
                    bindings[partner.id] = item.xero_id
                    created.append(
                        {
                            "connection_id": conn.id,
                            "partner_id": partner.id,
                            "xero_contact_id": item.xero_id,
                            "name": partner.name,
                            "email": partner.email or False,
                            "contact_number": partner.ref or False,
                        }
                    )
                else:
                    failed |= partner
            if created:
                Contact.create(created)
        return failed

    # ------------------------------------------------------------------
    # Payments from Xero: one reconcile function for webhooks, poll and retries
    # ------------------------------------------------------------------
    @api.model
    def _xero_sync_invoice_payments(self, connection, xero_invoice_ids, client=None):
        """Make Odoo's payments of these exported invoices equal Xero's.

        For each InvoiceID: read the invoice and each of its payments in Xero (plus the ones
        Odoo has bound to it, which Xero may no longer list), diff them with the Odoo payments
        bound by ``xero_payment_id``, cancel what Xero deleted, create what Odoo lacks. Each
        invoice is applied in a savepoint: a problem (no journal mapping, unknown currency,
        amount above the residual, locked period, …) rolls that invoice back and opens a
        ``payment_import`` failure instead; a later success resolves it.

        Transient Xero errors (timeouts, 5xx, rate limits, auth) propagate: the caller retries.
        Returns {xero_invoice_id: (state, message)}, state in done / ignored / failed.
        """
        results = {}
        ids = [i for i in dict.fromkeys(xero_invoice_ids or ()) if i]
        if not ids:
            return results
        moves = self.search(
            [
                ("xero_invoice_id", "in", ids),
                ("xero_connection_id", "=", connection.id),
                ("move_type", "=", "out_invoice"),
            ]
        )
        by_xero_id = {m.xero_invoice_id: m for m in moves}
        Failure = self.env["xero.failure"]
        for xero_id in ids:
            move = by_xero_id.get(xero_id)
            if not move:
                results[xero_id] = ("ignored", self.env._("Not an invoice exported from Odoo."))
                continue
            client = client or connection._xero_client()
            try:
                invoice, payments = move._xero_read_payment_truth(client)
            except NotFound:
                message = self.env._(
                    "Invoice %(inv)s: Xero no longer knows its InvoiceID %(id)s (field Xero "
                    "InvoiceID); its payments cannot be mirrored.",
                    inv=move.display_name,
                    id=xero_id,
                )
                Failure._xero_report("payment_import", move, message, connection)
                results[xero_id] = ("failed", message)
                continue
            message = None
            try:
                with self.env.cr.savepoint():
                    move.with_company(move.company_id)._xero_apply_payments(
                        connection, invoice, payments
                    )
            except _XeroPaymentProblem as exc:
                message = exc.args[0]
            except (UserError, ValidationError) as exc:
                message = self.env._(
                    "Invoice %(inv)s: Odoo refused the payment change: %(msg)s",
                    inv=move.display_name,
                    msg=exc.args[0] if exc.args else str(exc),
                )
            except psycopg2.IntegrityError:
                # Another worker bound the same Xero payment meanwhile: look again next run.
                message = self.env._(
                    "Invoice %(inv)s: another process mirrored the same Xero payment at the same "
                    "time; it will be checked again.",
                    inv=move.display_name,
                )
            except Exception as exc:  # noqa: BLE001 - one bad invoice must not block the others
                _logger.exception("Xero payments of invoice %s could not be mirrored", move.id)
                message = self.env._(
                    "Invoice %(inv)s: unexpected error while mirroring its Xero payments: %(msg)s",
                    inv=move.display_name,
                    msg=exc,
                )
            if message is not None:
                Failure._xero_report("payment_import", move, message, connection)
                results[xero_id] = ("failed", message)
            else:
                refund = move._xero_foreign_credit_notes(invoice)
                if refund:
                    # Adjustments stay manual (as in Case Manager): tell, do not guess.
                    Failure._xero_report("payment_import", move, refund, connection)
                else:
                    Failure._xero_resolve("payment_import", move)
                results[xero_id] = ("done", False)
        return results

    def _xero_foreign_credit_notes(self, invoice):
        """A message when Xero applied credit notes to this invoice that Odoo did not send."""
        self.ensure_one()
        notes = [c for c in invoice.get("CreditNotes") or () if c.get("CreditNoteID")]
        if not notes:
            return None
        ours = set(
            self.search(
                [
                    ("move_type", "=", "out_refund"),
                    ("xero_invoice_id", "in", [c["CreditNoteID"] for c in notes]),
                ]
            ).mapped("xero_invoice_id")
        )
        foreign = [c for c in notes if c["CreditNoteID"] not in ours]
        if not foreign:
            return None
        names = ", ".join(c.get("CreditNoteNumber") or c["CreditNoteID"] for c in foreign)
        return self.env._(
            "Invoice %(inv)s: Xero shows credit note(s) %(names)s applied to it that were not "
            "made in Odoo (a refund entered in Xero). Record the credit note in Odoo by hand, "
            "then press Ignore.",
            inv=self.display_name,
            names=names,
        )

    def _xero_read_payment_truth(self, client):
        """(Xero invoice dict, [Xero payment dicts]) for this invoice. The invoice's Payments
        list may carry only stubs, so every payment is read on its own; the ones Odoo has bound
        to this invoice are read too (Xero may have dropped them from the list)."""
        self.ensure_one()
        invoice = client.get_invoice(self.xero_invoice_id)
        payment_ids = [p.get("PaymentID") for p in invoice.get("Payments") or ()]
        payment_ids += self._xero_bound_payments().mapped("xero_payment_id")
        payments = []
        for pid in dict.fromkeys(p for p in payment_ids if p):
            try:
                payments.append(client.get_payment(pid))
            except NotFound:
                continue  # gone from Xero: the diff cancels it
        return invoice, payments

    def _xero_bound_payments(self, xero_payment_ids=()):
        self.ensure_one()
        domain = [("xero_payment_id", "!=", False), ("company_id", "=", self.company_id.id)]
        if xero_payment_ids:
            domain += ["|", ("xero_payment_id", "in", list(xero_payment_ids))]
        domain += [("invoice_ids", "in", self.ids)]
        return self.env["account.payment"].search(domain)

    def _xero_apply_payments(self, connection, invoice, payments):
        """Cancel, then create (a payment changed in Xero is a delete plus a create)."""
        self.ensure_one()
        payments = [
            p
            for p in payments
            if payment_data(p, invoice).invoice_id in (None, self.xero_invoice_id)
        ]
        bound = self._xero_bound_payments([p["PaymentID"] for p in payments])
        odoo_states = {}
        for pay in bound:
            # One Xero payment may have a cancelled and a live Odoo row: the live one counts.
            if odoo_states.get(pay.xero_payment_id) not in ODOO_ACTIVE:
                odoo_states[pay.xero_payment_id] = pay.state
        to_create, to_cancel = diff_payments(payments, odoo_states)
        notes = []
        for pid in to_cancel:
            live = bound.filtered(
                lambda p, pid=pid: (
                    p.xero_payment_id == pid and p.state not in ("canceled", "rejected")
                )
            )
            for pay in live:
                self._xero_check_lock(pay.journal_id, pay.date, pid, self.env._("cancel"))
            live.action_draft()
            live.action_cancel()
            for pay in live:
                notes.append(
                    self.env._(
                        "Payment %(pay)s (%(amount)s) cancelled: Xero payment %(id)s was deleted.",
                        pay=html_escape(pay.display_name),
                        amount=html_escape(
                            formatLang(self.env, pay.amount, currency_obj=pay.currency_id)
                        ),
                        id=html_escape(pid),
                    )
                )
        for xero_payment in to_create:
            data = payment_data(xero_payment, invoice)
            pay = self._xero_create_payment(connection, data)
            notes.append(
                self.env._(
                    "Payment %(pay)s (%(amount)s on %(date)s) registered from Xero payment %(id)s.",
                    pay=html_escape(pay.display_name),
                    amount=html_escape(
                        formatLang(self.env, pay.amount, currency_obj=pay.currency_id)
                    ),
                    date=html_escape(str(data.date)),
                    id=html_escape(data.payment_id),
                )
            )
        if notes:
            self._message_log(body=Markup("<br/>").join(Markup(n) for n in notes))
        return len(notes)

    def _xero_check_lock(self, journal, date, xero_payment_id, what):
        lock = self.company_id._get_user_fiscal_lock_date(journal)
        if date and lock and date <= lock:
            raise _XeroPaymentProblem(
                self.env._(
                    "Invoice %(inv)s: cannot %(what)s the payment of Xero payment %(id)s dated "
                    "%(date)s: the period is locked until %(lock)s (field Lock Date in the "
                    "accounting settings).",
                    inv=self.display_name,
                    what=what,
                    id=xero_payment_id,
                    date=date,
                    lock=lock,
                )
            )

    def _xero_create_payment(self, connection, data):
        """A posted payment mirroring ``data`` (PaymentData), reconciled with this invoice."""
        self.ensure_one()
        label = self.env._(
            "Invoice %(inv)s: Xero payment %(id)s", inv=self.display_name, id=data.payment_id
        )
        if self.state != "posted":
            raise _XeroPaymentProblem(
                self.env._(
                    "%(label)s cannot be registered: the invoice is not posted (field Status).",
                    label=label,
                )
            )
        currency = self.currency_id
        if data.currency and data.currency != self.currency_id.name:
            currency = (
                self.env["res.currency"]
                .with_context(active_test=False)
                .search([("name", "=", data.currency)], limit=1)
            )
            if not currency or not currency.active:
                raise _XeroPaymentProblem(
                    self.env._(
                        "%(label)s is in %(cur)s, which is missing or inactive in Odoo (activate "
                        "it under Accounting > Configuration > Currencies, field Active).",
                        label=label,
                        cur=data.currency,
                    )
                )
        journal = self.env["xero.payment.journal"]._xero_journal_for(
            connection, data.account_code, data.account_id, currency
        )
        if not journal:
            raise _XeroPaymentProblem(
                self.env._(
                    "%(label)s was made to Xero account %(acc)s in %(cur)s, which has no Odoo "
                    "journal: map it under Invoicing > Configuration > Xero > Payment journals "
                    "(field Xero account).",
                    label=label,
                    acc=data.account_code or data.account_id or self.env._("(none)"),
                    cur=currency.name,
                )
            )
        if not data.date:
            raise _XeroPaymentProblem(self.env._("%(label)s has no date in Xero.", label=label))
        self._xero_check_lock(journal, data.date, data.payment_id, self.env._("register"))
        if currency.compare_amounts(data.amount, 0.0) <= 0:
            raise _XeroPaymentProblem(
                self.env._(
                    "%(label)s has a non-positive amount (%(amount)s).",
                    label=label,
                    amount=data.amount,
                )
            )
        amount_in_invoice_currency = currency._convert(
            data.amount, self.currency_id, self.company_id, data.date
        )
        if self.currency_id.compare_amounts(amount_in_invoice_currency, self.amount_residual) > 0:
            raise _XeroPaymentProblem(
                self.env._(
                    "%(label)s of %(amount)s is more than the amount due in Odoo (%(residual)s, "
                    "field Amount Due): check the invoice's other payments and credit notes.",
                    label=label,
                    amount=formatLang(self.env, data.amount, currency_obj=currency),
                    residual=formatLang(
                        self.env, self.amount_residual, currency_obj=self.currency_id
                    ),
                )
            )
        vals = {
            "journal_id": journal.id,
            "amount": data.amount,
            "currency_id": currency.id,
            "payment_date": data.date,
            "payment_difference_handling": "open",
        }
        if data.reference:
            vals["communication"] = data.reference
        wizard = (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=self.ids)
            .create(vals)
        )
        payment = wizard._create_payments()
        payment.xero_payment_id = data.payment_id
        payment.flush_recordset(["xero_payment_id"])
        return payment


class _XeroPaymentProblem(Exception):
    """A payment that cannot be mirrored until someone fixes its cause (message says which)."""
