# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Customer invoices → Xero, in batches of 50, exactly once.

State machine (``xero_state``): not_sent → queued → sending → sent | failed; ``csv`` marks an
invoice exported by the legacy CSV wizard (imported into Xero by hand), never sent by the API.
The cron claims a batch (row locks that skip rows another worker holds, ``queued`` →
``sending`` with an attempt key) and commits before the HTTP call; the results are written
only onto rows that still carry that attempt key. A batch whose outcome is unknown (dropped
connection, timeout, crash) is sent again only after a lookup by InvoiceNumber in Xero has
bound what Xero already has.
"""

import logging
import uuid
from datetime import timedelta

from markupsafe import Markup
from psycopg2.extras import execute_values

from casemgr_xero_core import export as xero_export
from casemgr_xero_core import mapping
from casemgr_xero_core.batching import chunks
from casemgr_xero_core.errors import AuthError, RateLimited, XeroError

from odoo import _, api, fields, models
from odoo.tools import float_is_zero, html_escape

_logger = logging.getLogger(__name__)

BATCH_SIZE = 50
STALE_SENDING = timedelta(minutes=10)
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
    xero_connection_id = fields.Many2one(
        "xero.connection", string="Xero Connection", copy=False, index=True, readonly=True
    )
    xero_sent_at = fields.Datetime(string="Sent to Xero", copy=False, readonly=True)
    xero_error = fields.Text(string="Xero Error", copy=False, readonly=True)
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
        if self.move_type != "out_invoice":
            return _("not a customer invoice")
        if self.state != "posted":
            return _("not posted")
        if self.xero_state == "sent":
            return _("already in Xero")
        if self.xero_state in ("queued", "sending"):
            return _("already queued")
        if self.xero_state == "csv":
            # Imported into Xero by hand from a CSV file: sending it too would duplicate it.
            return _("already exported by CSV")
        conn = connections.get(self.company_id.id)
        if not conn:
            return _("company %s has no Xero connection") % self.company_id.name
        if conn.state != "connected":
            return _("the Xero connection of %s is not connected") % self.company_id.name
        return None

    def _xero_queue(self):
        """Queue what can be queued; return (queued moves, {reason: moves})."""
        connections = {
            c.company_id.id: c
            for c in self.env["xero.connection"].search(
                [("company_id", "in", self.company_id.ids)]
            )
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
        lines = [_("%s invoice(s) queued for Xero.") % len(queued)]
        for reason, moves in skipped.items():
            names = ", ".join(moves[:5].mapped("display_name"))
            more = _(" and %s more") % (len(moves) - 5) if len(moves) > 5 else ""
            lines.append(
                _("%(count)s skipped (%(reason)s): %(names)s%(more)s")
                % {"count": len(moves), "reason": reason, "names": names, "more": more}
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Send to Xero"),
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
        cron = self.env.ref("casemgr_xero.ir_cron_xero_export")
        more = False
        for conn in self.env["xero.connection"].search([("state", "=", "connected")]):
            more |= self._xero_export_connection(conn, max_batches, cron)
        if more:
            cron._trigger()
        return True

    def _xero_export_connection(self, conn, max_batches, cron):
        """Send up to ``max_batches`` batches for ``conn``; True when work remains now."""
        for _i in range(max_batches):
            wait = conn._xero_paused()
            if wait:
                cron._trigger(at=fields.Datetime.now() + timedelta(seconds=wait + 1))
                return False
            key, moves = self._xero_claim_batch(conn)
            if not moves:
                return False
            try:
                self._xero_send_batch(conn, key, moves)
            except RateLimited as exc:
                self._xero_release(key, moves, unknown=False)
                retry = max(exc.retry_after or 60.0, 1.0)
                conn._xero_pause_until(fields.Datetime.now() + timedelta(seconds=retry))
                cron._trigger(at=fields.Datetime.now() + timedelta(seconds=retry + 1))
                return False
            except AuthError as exc:
                self._xero_release(key, moves, unknown=exc.outcome_unknown)
                with conn._xero_detached() as dconn:
                    dconn.env["xero.failure"]._xero_report("auth", dconn, str(exc), dconn)
                return False
            except XeroError as exc:
                # Transient (5xx, timeout, dropped connection): requeue, try again later.
                _logger.warning("Xero export for connection %s deferred: %s", conn.id, exc)
                self._xero_release(key, moves, unknown=exc.outcome_unknown)
                cron._trigger(at=fields.Datetime.now() + timedelta(seconds=60))
                return False
        return True

    @api.model
    def _xero_claim_batch(self, conn):
        """Atomically move up to 50 queued (or stale sending) moves to ``sending``; commit."""
        key = str(uuid.uuid4())
        now = fields.Datetime.now()
        self.env.flush_all()
        with self.env.registry.cursor() as cr:
            cr.execute(
                """
                SELECT id, xero_state = 'sending' OR xero_outcome_unknown
                  FROM account_move
                 WHERE xero_connection_id = %s
                   AND (xero_state = 'queued'
                        OR (xero_state = 'sending' AND xero_attempt_at < %s))
                 ORDER BY id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
                """,
                [conn.id, now - STALE_SENDING, BATCH_SIZE],
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
        moves = self.browse([r[0] for r in rows])
        moves.invalidate_recordset(
            ["xero_state", "xero_attempt_key", "xero_attempt_at", "xero_outcome_unknown"]
        )
        return key, moves

    def _xero_release(self, key, moves, unknown):
        """Put a claimed batch back in the queue (flagged when its outcome is unknown)."""
        self.env.flush_all()
        with self.env.registry.cursor() as cr:
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
        client = conn._xero_client()
        data, problems = self._xero_invoice_data(conn, moves)
        results = {}  # move id -> (state, invoice id, message)
        valid = self.browse()
        for move in moves:
            errors = problems.get(move.id, []) + mapping.validate_invoice(data[move.id])
            if errors:
                results[move.id] = ("failed", None, "\n".join(errors))
            else:
                valid |= move
        if valid:
            contact_errors = self._xero_resolve_contacts(conn, client, valid, data)
            for move_id, message in contact_errors.items():
                results[move_id] = ("failed", None, message)
            sendable = valid.filtered(lambda m: m.id not in contact_errors)
            if sendable:
                payloads = [
                    mapping.invoice_payload(data[m.id], conn.invoice_number_prefix or "")
                    for m in sendable
                ]
                check_existing = any(m.xero_outcome_unknown for m in sendable)
                items = xero_export.send_invoice_batch(
                    client, payloads, key, check_existing=check_existing
                )
                for move, item in zip(sendable, items):
                    if item.ok:
                        results[move.id] = ("sent", item.xero_id, None)
                    elif item.retryable:
                        results[move.id] = ("queued", None, None)
                    else:
                        # A total mismatch keeps Xero's InvoiceID: the invoice exists there.
                        results[move.id] = (
                            "failed",
                            item.xero_id,
                            "\n".join(item.messages) or _("Xero refused this invoice."),
                        )
        self._xero_write_results(conn, key, moves, results)

    def _xero_write_results(self, conn, key, moves, results):
        """Write the batch's outcome in one short transaction, onto our claim only."""
        now = fields.Datetime.now()
        self.env.flush_all()
        with self.env.registry.cursor() as cr:
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
                bodies[move.id] = _(
                    'Sent to Xero (%(org)s): <a href="%(url)s" target="_blank">open in Xero</a>'
                ) % {"org": html_escape(conn.tenant_name or ""), "url": html_escape(url)}
            for move in failed:
                bodies[move.id] = _("Xero refused this invoice: %s") % html_escape(
                    results[move.id][2]
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
                        _(
                            "Invoice %s mixes tax-included and tax-excluded prices (field Taxes): "
                            "Xero needs one or the other on an invoice."
                        )
                        % move.name
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
                label = _("Invoice %(inv)s, line %(n)s (%(desc)s)") % {
                    "inv": move.name,
                    "n": len(lines) + 1,
                    "desc": (line.name or "")[:40],
                }
                if len(line.tax_ids) > 1:
                    problems.append(
                        _("%s: Xero takes one tax rate per line; use a single (group) tax.")
                        % label
                    )
                elif line.tax_ids:
                    tax_type = tax_types.get(line.tax_ids.id)
                    if not tax_type:
                        problems.append(
                            _(
                                "%(label)s: tax %(tax)s has no Xero tax type (field Taxes; map it "
                                "under Invoicing > Configuration > Xero > Tax types)."
                            )
                            % {"label": label, "tax": line.tax_ids.name}
                        )
                elif amount_types != "NoTax":
                    tax_type = "NONE"
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
                        account_code=account_codes.get(line.account_id.id, line.account_id.code),
                        tax_type=tax_type,
                        tax_amount=line.price_total - line.price_subtotal,
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
            bound_ids = set(
                Binding.search([("connection_id", "=", conn.id)]).mapped("xero_contact_id")
            )
            found = client.find_contacts(names=missing.mapped("name"))
            by_name = {}
            for contact in found:
                by_name.setdefault((contact.get("Name") or "").strip().lower(), []).append(contact)
            to_create = self.env["res.partner"]
            new_bindings = []
            for partner in missing:
                candidates = [
                    c
                    for c in by_name.get(partner.name.strip().lower(), [])
                    if c["ContactID"] not in bound_ids
                ]
                if len(candidates) == 1:
                    bindings[partner.id] = candidates[0]["ContactID"]
                    bound_ids.add(candidates[0]["ContactID"])
                    new_bindings.append((partner.id, candidates[0]["ContactID"]))
                else:
                    to_create |= partner
            for chunk in chunks(list(to_create), BATCH_SIZE):
                payloads = [
                    mapping.contact_payload(data_contact)
                    for data_contact in (
                        mapping.ContactData(
                            key=str(p.id),
                            name=p.name,
                            email=p.email or None,
                            contact_number=p.ref or None,
                        )
                        for p in chunk
                    )
                ]
                for partner, item in zip(chunk, client.create_contacts(payloads)):
                    if item.ok:
                        bindings[partner.id] = item.xero_id
                        new_bindings.append((partner.id, item.xero_id))
            if new_bindings:
                Binding.create(
                    [
                        {"connection_id": conn.id, "partner_id": pid, "xero_contact_id": cid}
                        for pid, cid in new_bindings
                    ]
                )
        errors = {}
        for move in moves:
            partner = move.partner_id.commercial_partner_id
            contact_id = bindings.get(partner.id)
            if contact_id:
                data[move.id].contact.xero_contact_id = contact_id
            else:
                errors[move.id] = _(
                    "Invoice %(inv)s: customer %(partner)s could not be matched or created "
                    "in Xero (field Customer)."
                ) % {"inv": move.name, "partner": partner.display_name or _("(no name)")}
        return errors
