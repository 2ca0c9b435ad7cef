# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Payments from Xero: one reconcile function for webhooks, the poll and retries."""

import logging

import psycopg2
from casemgr_xero_core.errors import NotFound
from casemgr_xero_core.payments import (
    ODOO_ACTIVE,
    check_payment,
    diff_payments,
    is_locked,
    payment_data,
)
from markupsafe import Markup

from odoo import api, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import formatLang, html_escape

_logger = logging.getLogger(__name__)


class _XeroPaymentProblem(Exception):
    """A payment that cannot be mirrored until someone fixes its cause (message says which)."""


class XeroPaymentReconcile(models.AbstractModel):
    _name = "xero.payment.reconcile"
    _description = "Xero payment reconcile service"

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
        moves = self.env["account.move"].search(
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
                invoice, payments = self._xero_read_payment_truth(move, client)
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
                    self.with_company(move.company_id)._xero_apply_payments(
                        move.with_company(move.company_id), connection, invoice, payments
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
                Failure._xero_resolve("payment_import", move)
                # Credited, voided or edited in Xero: a card with a draft ready (xero_change.py).
                self.env["xero.change"]._xero_detect(connection, move, invoice, client)
                results[xero_id] = ("done", False)
        return results

    def _xero_read_payment_truth(self, move, client):
        """(Xero invoice dict, [Xero payment dicts]) for this invoice. The invoice's Payments
        list may carry only stubs, so every payment is read on its own; the ones Odoo has bound
        to this invoice are read too (Xero may have dropped them from the list)."""
        move.ensure_one()
        invoice = client.get_invoice(move.xero_invoice_id)
        payment_ids = [p.get("PaymentID") for p in invoice.get("Payments") or ()]
        payment_ids += self._xero_bound_payments(move).mapped("xero_payment_id")
        payments = []
        for pid in dict.fromkeys(p for p in payment_ids if p):
            try:
                payments.append(client.get_payment(pid))
            except NotFound:
                continue  # gone from Xero: the diff cancels it
        return invoice, payments

    def _xero_bound_payments(self, move, xero_payment_ids=()):
        move.ensure_one()
        domain = [("xero_payment_id", "!=", False), ("company_id", "=", move.company_id.id)]
        if xero_payment_ids:
            domain += ["|", ("xero_payment_id", "in", list(xero_payment_ids))]
        domain += [("invoice_ids", "in", move.ids)]
        return self.env["account.payment"].search(domain)

    def _xero_apply_payments(self, move, connection, invoice, payments):
        """Cancel, then create (a payment changed in Xero is a delete plus a create)."""
        move.ensure_one()
        payments = [
            p
            for p in payments
            if payment_data(p, invoice).invoice_id in (None, move.xero_invoice_id)
        ]
        bound = self._xero_bound_payments(move, [p["PaymentID"] for p in payments])
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
                self._xero_check_lock(move, pay.journal_id, pay.date, pid, self.env._("cancel"))
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
            pay = self._xero_create_payment(move, connection, data)
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
            move._message_log(body=Markup("<br/>").join(Markup(n) for n in notes))
        return len(notes)

    def _xero_check_lock(self, move, journal, date, xero_payment_id, what):
        lock = move.company_id._get_user_fiscal_lock_date(journal)
        if is_locked(date, lock):
            raise _XeroPaymentProblem(
                self.env._(
                    "Invoice %(inv)s: cannot %(what)s the payment of Xero payment %(id)s dated "
                    "%(date)s: the period is locked until %(lock)s (field Lock Date in the "
                    "accounting settings).",
                    inv=move.display_name,
                    what=what,
                    id=xero_payment_id,
                    date=date,
                    lock=lock,
                )
            )

    def _xero_create_payment(self, move, connection, data):
        """A posted payment mirroring ``data`` (PaymentData), reconciled with this invoice."""
        move.ensure_one()
        label = self.env._(
            "Invoice %(inv)s: Xero payment %(id)s", inv=move.display_name, id=data.payment_id
        )
        if move.state != "posted":
            raise _XeroPaymentProblem(
                self.env._(
                    "%(label)s cannot be registered: the invoice is not posted (field Status).",
                    label=label,
                )
            )
        currency = move.currency_id
        if data.currency and data.currency != move.currency_id.name:
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
        converted = (
            currency._convert(data.amount, move.currency_id, move.company_id, data.date)
            if data.date
            else 0.0
        )
        problem = check_payment(  # the core decides; the messages are ours (translated)
            data.date,
            data.amount,
            move.company_id._get_user_fiscal_lock_date(journal),
            converted,
            move.amount_residual,
            move.currency_id.decimal_places,
        )
        if problem == "no_date":
            raise _XeroPaymentProblem(self.env._("%(label)s has no date in Xero.", label=label))
        if problem == "locked":
            self._xero_check_lock(move, journal, data.date, data.payment_id, self.env._("register"))
        if problem == "not_positive":
            raise _XeroPaymentProblem(
                self.env._(
                    "%(label)s has a non-positive amount (%(amount)s).",
                    label=label,
                    amount=data.amount,
                )
            )
        if problem == "above_due":
            raise _XeroPaymentProblem(
                self.env._(
                    "%(label)s of %(amount)s is more than the amount due in Odoo (%(residual)s, "
                    "field Amount Due): check the invoice's other payments and credit notes.",
                    label=label,
                    amount=formatLang(self.env, data.amount, currency_obj=currency),
                    residual=formatLang(
                        self.env, move.amount_residual, currency_obj=move.currency_id
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
            vals["communication"] = data.reference  # the payment's memo
        ctx = {"active_model": "account.move", "active_ids": move.ids}
        company_currency = move.company_id.currency_id
        if currency != company_currency and data.currency_rate:
            # Xero's rate of this payment (foreign units per base unit), not Odoo's day rate.
            ctx["xero_payment_balance"] = company_currency.round(data.amount / data.currency_rate)
        wizard = self.env["account.payment.register"].with_context(**ctx).create(vals)
        payment = wizard._create_payments()
        payment.xero_payment_id = data.payment_id
        payment.flush_recordset(["xero_payment_id"])
        return payment
