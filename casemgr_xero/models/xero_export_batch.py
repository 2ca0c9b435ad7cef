# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The export service's batch: claim (with its liveness), send, credit-note allocation and
results. It follows the transaction policy (``transaction.py``)."""

import logging
import uuid

from casemgr_xero_core import export as xero_export
from casemgr_xero_core import mapping
from casemgr_xero_core.batching import MAX_INVOICES_PER_REQUEST
from casemgr_xero_core.errors import XeroError
from casemgr_xero_core.results import Outcome
from markupsafe import Markup
from psycopg2.extras import execute_values

from odoo import api, fields, models
from odoo.tools import html_escape

from .. import texts
from ..const import CLAIM_LOCK
from ..outcomes import ExportOutcome, ProblemLine
from ..transaction import commit_batch
from .account_move import XERO_WEB_INVOICE_URL

_logger = logging.getLogger(__name__)
_UNREAD = object()  # the organisation's tax rates, not read yet in this batch


class XeroExportBatch(models.AbstractModel):
    _inherit = "xero.export"

    @staticmethod
    def _xero_claim_token(key):
        """The int4 advisory-lock token of an attempt key (the uuid's first 32 bits)."""
        token = int(key[:8], 16)
        return token - (1 << 32) if token >= (1 << 31) else token

    def _xero_claim_alive_tokens(self):
        """Tokens (as PostgreSQL shows them in ``pg_locks.objid``, unsigned) of the claims whose
        claimant is alive.

        The claimant holds ``pg_advisory_xact_lock(CLAIM_LOCK, token)`` (``ClaimLiveness``)
        from before its claim is committed until the batch's outcome is, and PostgreSQL releases
        it when that ends or when the claimant's backend goes (the worker killed: SIGKILL,
        ``limit_time_real``, a server restart or crash). The lock lives in PostgreSQL, so this
        holds for every process and every Odoo server sharing the database; no clock or timeout
        is involved. Chosen over recording the claimant's backend pid + backend_start: Odoo
        pools connections, so a backend can outlive the work (or serve another cursor).
        """
        self.env.cr.execute(
            """
            SELECT l.objid::text::bigint
              FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
               AND l.classid = %s AND d.datname = current_database()
            """,
            [CLAIM_LOCK],
        )
        return {r[0] for r in self.env.cr.fetchall()}

    @api.model
    def _xero_claim_batch(self, conn, liveness):
        """Move up to 50 queued moves (or moves of a claim whose claimant died) to ``sending``
        and commit.

        The first statements after the previous commit (``transaction.py``). The claimant's
        liveness lock is taken (``liveness``, a ``ClaimLiveness``) before the claim, so a
        committed claim is never without it; the caller releases it once the batch's outcome
        is committed."""
        key = str(uuid.uuid4())
        liveness.hold(self._xero_claim_token(key))
        now = fields.Datetime.now()
        cr = self.env.cr
        # Dead claims: read the claims first, then the live locks. A claimant that ended in
        # between wrote its outcome first, so the row re-check of FOR UPDATE (READ COMMITTED)
        # skips its rows.
        cr.execute(
            "SELECT DISTINCT xero_attempt_key FROM account_move "
            "WHERE xero_connection_id = %s AND xero_state = 'sending'",
            [conn.id],
        )
        claims = [r[0] for r in cr.fetchall()]
        dead = []
        if claims:
            alive = self._xero_claim_alive_tokens()
            dead = [k for k in claims if k and self._xero_claim_token(k) & 0xFFFFFFFF not in alive]
        cr.execute(
            """
            WITH picked AS (
                SELECT id FROM account_move
                 WHERE xero_connection_id = %s
                   AND (xero_state = 'queued'
                        OR (xero_state = 'sending'
                            AND (xero_attempt_key IS NULL OR xero_attempt_key = ANY(%s))))
                 ORDER BY id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
            )
            UPDATE account_move AS m
               SET xero_state = 'sending', xero_attempt_key = %s, xero_attempt_at = %s,
                   xero_outcome_unknown = m.xero_outcome_unknown OR m.xero_state = 'sending'
              FROM picked
             WHERE m.id = picked.id
            RETURNING m.id
            """,
            [conn.id, dead, MAX_INVOICES_PER_REQUEST, key, now],
        )
        ids = sorted(r[0] for r in cr.fetchall())
        commit_batch(self.env)  # claimed for everyone to see, before any call to Xero
        if not ids:
            liveness.release()
        return key, self.env["account.move"].browse(ids)

    def _xero_release(self, key, moves, unknown, commit=True):
        """Put a claimed batch back in the queue (flagged when its outcome is unknown)."""
        self.env.cr.execute(
            """
            UPDATE account_move
               SET xero_state = 'queued',
                   xero_outcome_unknown = xero_outcome_unknown OR %s
             WHERE id IN %s AND xero_attempt_key = %s AND xero_state = 'sending'
            """,
            [bool(unknown), tuple(moves.ids), key],
        )
        moves.invalidate_recordset(["xero_state", "xero_outcome_unknown"])
        if commit:
            commit_batch(self.env)

    def _xero_send_batch(self, conn, key, moves):
        """Validate, bind contacts, send invoices then credit notes, write every outcome.

        If Xero stops answering halfway, what is known is written first and the exception is
        re-raised: the caller puts the rest back in the queue flagged 'outcome unknown'.
        """
        client = conn._xero_client()
        InvoiceData = self.env["xero.invoice.data"]
        data = InvoiceData._xero_invoice_data(conn, moves)
        results = {}  # move id -> ExportOutcome
        tax_rates = _UNREAD
        valid = self.env["account.move"].browse()
        for move in moves:
            lines = InvoiceData._xero_problems(data[move.id])
            if lines:  # kept with their causes: one dashboard card per cause
                results[move.id] = ExportOutcome("failed", lines=tuple(lines))
            else:
                valid |= move
        try:
            if valid:
                contact_errors = self.env["xero.contact"]._xero_resolve_contacts(
                    conn, client, valid, data
                )
                for move_id, line in contact_errors.items():
                    results[move_id] = ExportOutcome("failed", lines=(line,))
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
                        or any(m.xero_outcome_unknown for m in group),
                    )
                    for move, item in zip(group, items, strict=True):
                        outcome = item.outcome  # the core classifies Xero's answer
                        if outcome is Outcome.TOTAL_MISMATCH:
                            # In Xero, with another total: sent (never send it again), and a
                            # drift card says by how much and why it may differ.
                            filing = self.env["xero.export.filing"]
                            if tax_rates is _UNREAD:  # one read per batch, at its first mismatch
                                tax_rates = filing._xero_tax_rates_by_type(client)
                            drift = filing._xero_total_mismatch_message(
                                conn, tax_rates, move, item.mismatch
                            )
                            results[move.id] = ExportOutcome("sent", item.xero_id, drift=drift)
                        elif outcome is Outcome.SENT:
                            results[move.id] = ExportOutcome("sent", item.xero_id)
                        elif outcome is Outcome.QUEUED:
                            results[move.id] = ExportOutcome("queued")
                        else:
                            text = texts.item_text(self.env, item)
                            results[move.id] = ExportOutcome("failed", lines=(ProblemLine(text),))
        finally:
            if results:
                self._xero_write_results(conn, key, moves, results)
                commit_batch(self.env)  # the results, before anything else can go wrong
        self._xero_allocate_credit_notes(conn, client, moves, results)
        commit_batch(self.env)

    def _xero_allocate_credit_notes(self, conn, client, moves, results):
        """Apply each credit note just created to its original invoice when that is in Xero.

        Every call to Xero is made first, then the outcomes are written (``transaction.py``)."""
        outcomes = []  # (credit note, original invoice, error or None)
        for move in moves.filtered(lambda m: m.move_type == "out_refund"):
            outcome = results.get(move.id)
            origin = move.reversed_entry_id
            if outcome is None or outcome.state != "sent" or not origin.xero_invoice_id:
                continue
            if origin.xero_connection_id != conn:
                continue
            try:
                client.allocate_credit_note(
                    outcome.xero_id,
                    origin.xero_invoice_id,
                    min(move.amount_total, origin.amount_total),
                    fields.Date.to_string(move.invoice_date or move.date),
                )
            except XeroError as exc:
                outcomes.append((move, origin, exc))
            else:
                outcomes.append((move, origin, None))
        for move, origin, exc in outcomes:
            if exc is not None:
                message = self.env._(
                    "Credit note %(cn)s is in Xero but could not be allocated to invoice "
                    "%(inv)s there: %(msg)s. Allocate it in Xero.",
                    cn=move.name,
                    inv=origin.name,
                    msg=exc,
                )
                self.env["xero.failure"].sudo()._xero_report(
                    "invoice_export", move.sudo(), message, conn.sudo()
                )
                continue
            move.sudo().message_post(
                body=self.env._("Allocated in Xero to invoice %s.", origin.name),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )

    def _xero_write_results(self, conn, key, moves, results):
        """Write the batch's outcome onto our claim only (the caller commits)."""
        now = fields.Datetime.now()
        env = self.env(su=True)
        env.flush_all()
        rows = [
            (move_id, out.state, out.xero_id, out.message, out.state == "queued", now, key)
            for move_id, out in results.items()
        ]
        execute_values(
            env.cr,
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
        moves.invalidate_recordset()
        dmoves = env["account.move"].browse(list(results))
        sent = dmoves.filtered(lambda m: results[m.id].state == "sent")
        failed = dmoves.filtered(lambda m: results[m.id].state == "failed")
        failures = env["xero.failure"]
        failures._xero_resolve("invoice_export", sent)
        dconn = conn.with_env(env)
        filing = env["xero.export.filing"]
        filing._xero_report_sent({m: results[m.id] for m in sent}, dconn)
        filing._xero_report_export({m: results[m.id] for m in failed}, dconn)
        bodies = {}
        for move in sent:
            url = XERO_WEB_INVOICE_URL % results[move.id].xero_id
            bodies[move.id] = self.env._(
                'Sent to Xero (%(org)s): <a href="%(url)s" target="_blank">open in Xero</a>',
                org=html_escape(conn.tenant_name or ""),
                url=html_escape(url),
            )
        for move in failed:
            bodies[move.id] = self.env._(
                "Xero refused this invoice: %s", html_escape(results[move.id].message)
            )
        if bodies:
            dmoves.browse(list(bodies))._message_log_batch(
                bodies={k: Markup(v) for k, v in bodies.items()}
            )
