# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The invoice's PDF in Xero (a connection's ``xero_attach_pdf``, off by default).

An invoice the export has just sent is marked ``xero_pdf_state = 'pending'`` in the export's
own results transaction (``xero.export._xero_write_results``) and the PDF cron is woken. The
cron follows the transaction policy (``transaction.py``): the claim (``pending`` →
``attaching``, ``FOR UPDATE SKIP LOCKED``, stamped with the claim's time) is the first
statement after a commit and is committed; the PDFs are rendered (nothing written), Xero is
called (the PDF attached under the invoice's file name, then its online-invoice URL read), and
the results are written onto rows that still carry the claim's stamp and committed before the
next claim. A failure (over Xero's size limit, Xero refusing it, Odoo unable to render it) is
an ``invoice_pdf`` card whose Retry marks the invoice ``pending`` again; the invoice itself
stays ``sent`` and is never sent again.

A claim whose worker died stays ``attaching``; it is taken back after ``STALE_CLAIM``. Doing
it twice is harmless: Xero replaces an attachment of the same file name.
"""

import logging
import time
from datetime import timedelta

from casemgr_xero_core import attachments
from casemgr_xero_core.errors import RateLimited, ReconnectRequired, TransientError, XeroError

from odoo import api, fields, models
from odoo.exceptions import UserError

from .. import compat
from ..transaction import commit_batch

_logger = logging.getLogger(__name__)

BATCH = 10  # PDFs rendered, then attached, per claim (each up to 10 MB in memory)
RUN_SECONDS = 30  # as the export run: well inside limit_time_real
STALE_CLAIM = timedelta(minutes=15)  # > limit_time_real: only a dead worker's claim is older
REPORT = "account.account_invoices"


class XeroAttachment(models.AbstractModel):
    _name = "xero.attachment"
    _description = "Xero invoice PDF service"

    # ------------------------------------------------------------------
    # After export (the export's results transaction)
    # ------------------------------------------------------------------
    def _xero_pdf_after_export(self, conn, move_ids):
        """Mark the customer invoices just sent on ``conn`` for their PDF, when it attaches
        PDFs; wake the PDF cron. Written in SQL with the export's results."""
        if not conn.xero_attach_pdf or not move_ids:
            return
        self.env.cr.execute(
            """
            UPDATE account_move SET xero_pdf_state = 'pending'
             WHERE id = ANY(%s) AND xero_state = 'sent' AND move_type = 'out_invoice'
               AND xero_invoice_id IS NOT NULL AND xero_pdf_state IS NULL
            RETURNING id
            """,
            [list(move_ids)],
        )
        if self.env.cr.fetchall():
            self.env["account.move"].invalidate_model(["xero_pdf_state"])
            self.env.ref("casemgr_xero.ir_cron_xero_attach_pdf")._trigger()

    # ------------------------------------------------------------------
    # The cron
    # ------------------------------------------------------------------
    @api.model
    def _cron_xero_attach_pdf(self, max_batches=20):
        """Attach the PDFs waiting on every connection that attaches PDFs."""
        commit_batch(self.env)  # whatever ran before us is committed; a fresh snapshot
        deadline = time.monotonic() + RUN_SECONDS
        cron = self.env.ref("casemgr_xero.ir_cron_xero_attach_pdf")
        conns = self.env["xero.connection"].search(
            [("state", "=", "connected"), ("xero_attach_pdf", "=", True)]
        )
        done = 0
        for conn in conns:
            service = self.with_company(conn.company_id)
            conn = conn.with_company(conn.company_id)
            for _batch in range(max_batches):
                wait = self.env["xero.api"]._xero_paused(conn)
                if wait:
                    cron._trigger(at=fields.Datetime.now() + timedelta(seconds=wait + 1))
                    break
                if time.monotonic() > deadline:
                    cron._trigger()
                    return True
                stamp, moves = service._xero_pdf_claim(conn)
                if not moves:
                    break
                done += len(moves)
                if not service._xero_pdf_batch(conn, stamp, moves):
                    cron._trigger(at=fields.Datetime.now() + timedelta(seconds=60))
                    break
            else:
                cron._trigger()  # max_batches reached with work left
        compat.cron_progress(self.env, done, 0)
        commit_batch(self.env)
        return True

    def _xero_pdf_claim(self, conn):
        """``pending`` (or a dead claim's ``attaching``) → ``attaching``; commit. The first
        statement after a commit."""
        now = fields.Datetime.now()
        self.env.cr.execute(
            """
            WITH picked AS (
                SELECT id FROM account_move
                 WHERE xero_connection_id = %s AND xero_state = 'sent'
                   AND xero_invoice_id IS NOT NULL
                   AND (xero_pdf_state = 'pending'
                        OR (xero_pdf_state = 'attaching' AND xero_pdf_at < %s))
                 ORDER BY id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
            )
            UPDATE account_move AS m SET xero_pdf_state = 'attaching', xero_pdf_at = %s
              FROM picked WHERE m.id = picked.id
            RETURNING m.id
            """,
            [conn.id, now - STALE_CLAIM, BATCH, now],
        )
        ids = sorted(r[0] for r in self.env.cr.fetchall())
        commit_batch(self.env)  # claimed for everyone to see, before any call to Xero
        return now, self.env["account.move"].browse(ids)

    def _xero_pdf_document(self, move):
        """(file name, bytes) of the invoice's PDF: the one Odoo keeps for it (sent or printed
        before), else rendered now. Odoo renders HTML instead where it cannot make a PDF (its
        test mode): the file's type comes from its bytes. UserError when Odoo cannot render."""
        stored = move.invoice_pdf_report_id
        if stored and stored.raw:
            content = stored.raw
        else:
            reports = self.env["ir.actions.report"].with_company(move.company_id)
            rendered, report_type = reports._pre_render_qweb_pdf(REPORT, move.ids)
            content = reports._get_splitted_report(REPORT, rendered, report_type)[move.id]
        _mime, extension = attachments.content_type(content)
        return move._get_invoice_report_filename(extension=extension), content

    def _xero_pdf_batch(self, conn, stamp, moves):
        """Render, attach, read the online URLs, write the results and commit. False when
        the rest must wait (Xero's rate limit, Xero unavailable, the connection to be
        reconnected): what is left goes back to ``pending``, the cron comes back later."""
        documents, results = {}, {}
        for move in moves:
            try:
                documents[move] = self._xero_pdf_document(move)
            except UserError as exc:
                results[move] = ("failed", self._xero_pdf_text("render", move, error=exc), None)
        client = conn._xero_client() if documents else None
        finished = True
        for move, (file_name, content) in documents.items():
            try:
                result = attachments.attach_to_invoice(
                    client,
                    move.xero_invoice_id,
                    file_name,
                    content,
                    idempotency_key=f"casemgr-pdf-{move.id}-{stamp.timestamp():.0f}",
                )
                url = attachments.online_invoice_url(client, move.xero_invoice_id)
            except (RateLimited, TransientError, ReconnectRequired):
                finished = False  # later (the pause, Xero back, a reconnect): not a card
                break
            except XeroError as exc:
                results[move] = ("failed", self._xero_pdf_text("error", move, error=exc), None)
                continue
            if result.attached:
                results[move] = ("attached", None, url)
            else:
                results[move] = ("failed", self._xero_pdf_text(result, move), url)
        self._xero_pdf_write(conn, stamp, moves, results)
        return finished

    def _xero_pdf_text(self, what, move, error=None):
        """A card's message, in the user's language."""
        if what == "render":
            return self.env._(
                "Odoo could not make the PDF of %(name)s: %(error)s. The invoice itself is in "
                "Xero.",
                name=move.name,
                error=error,
            )
        if what == "error":
            return self.env._(
                "The PDF of %(name)s could not be attached in Xero: %(error)s. The invoice "
                "itself is in Xero.",
                name=move.name,
                error=error,
            )
        if what.outcome is attachments.AttachOutcome.TOO_LARGE:
            # plain names in the call: Odoo's term extraction (babel) evaluates its arguments
            size, limit = f"{what.size / 1048576:.1f}", f"{what.limit / 1048576:g}"
            return self.env._(
                "The PDF of %(name)s (%(size)s MB) is over Xero's limit of %(limit)s MB for "
                "an attachment: it was not attached. The invoice itself is in Xero.",
                name=move.name,
                size=size,
                limit=limit,
            )
        detail = what.detail or what.status
        return self.env._(
            "Xero refused the PDF of %(name)s: %(detail)s. The invoice itself is in Xero.",
            name=move.name,
            detail=detail,
        )

    def _xero_pdf_write(self, conn, stamp, moves, results):
        """Write the outcomes onto our claim (what has none goes back to ``pending``), file
        or close the cards, commit."""
        rows = {move.id: results.get(move, ("pending", None, None)) for move in moves}
        for move_id, (state, _message, url) in rows.items():
            self.env.cr.execute(
                """
                UPDATE account_move
                   SET xero_pdf_state = %s, xero_online_url = COALESCE(%s, xero_online_url)
                 WHERE id = %s AND xero_pdf_state = 'attaching' AND xero_pdf_at = %s
                """,
                [state, url, move_id, stamp],
            )
        moves.invalidate_recordset(["xero_pdf_state", "xero_online_url"])
        failures = self.env["xero.failure"].sudo()
        attached = moves.filtered(lambda m: rows[m.id][0] == "attached")
        failures._xero_resolve("invoice_pdf", attached)
        for move in moves.filtered(lambda m: rows[m.id][0] == "failed"):
            failures._xero_report("invoice_pdf", move, rows[move.id][1], conn)
        commit_batch(self.env)

    # ------------------------------------------------------------------
    # Retry (the card's button)
    # ------------------------------------------------------------------
    def _xero_pdf_retry(self, moves):
        """Mark ``moves`` (sent invoices) for their PDF again and wake the cron; return the
        moves marked."""
        moves = moves.filtered(
            lambda m: (
                m.xero_state == "sent"
                and m.xero_invoice_id
                and m.xero_connection_id.xero_attach_pdf
                and m.xero_pdf_state != "attaching"
            )
        )
        if moves:
            moves.flush_recordset(["xero_pdf_state"])
            self.env.cr.execute(
                "UPDATE account_move SET xero_pdf_state = 'pending' WHERE id = ANY(%s)",
                [moves.ids],
            )
            moves.invalidate_recordset(["xero_pdf_state"])
            self.env.ref("casemgr_xero.ir_cron_xero_attach_pdf")._trigger()
        return moves


class XeroExport(models.AbstractModel):
    """The export's results transaction also marks the PDFs to attach."""

    _inherit = "xero.export"

    def _xero_write_results(self, conn, key, moves, results):
        res = super()._xero_write_results(conn, key, moves, results)
        sent = [move_id for move_id, out in results.items() if out.state == "sent"]
        self.env["xero.attachment"].sudo()._xero_pdf_after_export(conn, sent)
        return res
