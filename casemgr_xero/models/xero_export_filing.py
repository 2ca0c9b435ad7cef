# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""How the export files its failures (``xero.export.filing``, a service on ``xero.failure``):
one card per cause (an unmapped tax, a contact Xero refused) listing the invoices it blocks,
and a drift card for an invoice Xero holds with another total."""

from decimal import Decimal

from casemgr_xero_core.errors import XeroError

from odoo import api, fields, models
from odoo.tools import formatLang

CAUSE_KINDS = ("mapping", "contact")


class XeroExportFiling(models.AbstractModel):
    _name = "xero.export.filing"
    _description = "Xero failures filed by the export (cause cards, sent with a difference)"

    @api.model
    def _xero_report_export(self, outcomes, connection):
        """Xero refused (or we did not send) these invoices ({move: ExportOutcome}): one card
        per cause (unmapped tax, contact) listing every invoice it blocks (bumped once per run,
        not once per invoice), and an invoice's own card only for its other problems."""
        Failure = self.env["xero.failure"]
        by_cause = {}
        for move, outcome in outcomes.items():
            for line in outcome.lines:
                if line.cause is not None:
                    text, moves = by_cause.get(line.cause, (line.text, self.env["account.move"]))
                    by_cause[line.cause] = (text, moves | move)
        cards = {}
        for cause, (text, moves) in by_cause.items():
            kind = cause.kind
            record = self.env[cause.model].browse(cause.res_id)
            text = self._xero_cause_text(kind, record, text)
            card = Failure._xero_report(kind, record, text, connection)
            if card.state == "ignored":
                continue
            if card.attempts == 1 and card.name == record.display_name:
                card.name = self._xero_cause_title(kind, record)
            card.move_ids = [fields.Command.link(m.id) for m in moves]
            for move in moves:
                cards[move] = cards.get(move, Failure.browse()) | card
        result = Failure.browse()
        for move, outcome in outcomes.items():
            keep = cards.get(move, Failure.browse())
            self._xero_release_moves(move, keep)
            result |= keep
            if outcome.causes and not outcome.uncaused:
                Failure._xero_resolve("invoice_export", move, connection)
            else:
                result |= Failure._xero_report("invoice_export", move, outcome.message, connection)
        return result

    def _xero_cause_title(self, kind, record):
        if kind == "mapping" and record._name == "account.tax":
            return self.env._("Map tax %s", record.display_name)
        if kind == "contact":
            return self.env._("Contact %s", record.display_name)
        return record.display_name

    def _xero_cause_text(self, kind, record, line):
        """The cause card's text (``line``: the first invoice's problem line, for a cause of
        another kind)."""
        if kind == "mapping" and record._name == "account.tax":
            return self.env._(
                "Tax %(tax)s has no Xero tax type: map it under Invoicing > Configuration > "
                "Xero > Tax types, then press Retry: every invoice listed on this card is sent.",
                tax=record.display_name,
            )
        if kind == "contact":
            return self.env._(
                "Customer %(partner)s could not be matched or created in Xero (field Customer). "
                "Fix the customer (name, e-mail, reference) or its contact in Xero, then press "
                "Retry: every invoice listed on this card is sent.",
                partner=record.display_name,
            )
        return line

    @api.model
    def _xero_release_moves(self, moves, keep=None):
        """``moves`` are no longer blocked by the cause cards other than ``keep``: take them off
        those cards; a card left with no invoice is resolved."""
        Failure = self.env["xero.failure"]
        cards = Failure.sudo().search(
            [
                ("kind", "in", CAUSE_KINDS),
                ("move_ids", "in", moves.ids),
                ("state", "in", ("open", "retrying")),
            ]
        ) - (keep or Failure.browse())
        for card in cards:
            card.move_ids = [fields.Command.unlink(m.id) for m in moves]
            if not card.move_ids:
                card.state = "resolved"

    @api.model
    def _xero_report_sent(self, outcomes, connection):
        """These moves ({move: ExportOutcome}) are in Xero: they leave their cause cards; those
        whose total Xero computed differently get a drift card saying by how much and why."""
        self._xero_release_moves(self.env["account.move"].union(*outcomes))
        for move, outcome in outcomes.items():
            if outcome.drift:
                self.env["xero.failure"]._xero_report("drift", move, outcome.drift, connection)

    @api.model
    def _xero_tax_rates_by_type(self, client):
        """{TaxType: Xero TaxRate} of the organisation, or None when Xero does not list them."""
        try:
            listed = client.get_tax_rates()
        except XeroError:
            return None
        return None if listed is None else {r.get("TaxType"): r for r in listed}

    @api.model
    def _xero_total_mismatch_message(self, connection, rates, move, mismatch):
        """Why Xero's total (``mismatch``: the core's ``TotalMismatch``) may differ from Odoo's:
        each tax's rate against its Xero tax type's rate (``rates``:
        ``_xero_tax_rates_by_type``, read once per batch), else rounding."""
        xero_total = mismatch.xero_total
        odoo_total = Decimal(str(move.amount_total))
        diff = xero_total - odoo_total
        cur = move.currency_id
        lines = [
            self.env._(
                "Invoice %(inv)s is in Xero, but Xero's total %(xero)s differs from Odoo's "
                "%(odoo)s by %(diff)s.",
                inv=move.name,
                xero=formatLang(self.env, float(xero_total), currency_obj=cur),
                odoo=formatLang(self.env, float(odoo_total), currency_obj=cur),
                diff=formatLang(self.env, float(diff), currency_obj=cur),
            )
        ]
        mappings = {
            m.tax_id: m.xero_tax_type
            for m in self.env["xero.tax.mapping"]
            .sudo()
            .search([("connection_id", "=", connection.id)])
        }
        reasons = []
        for tax in move.invoice_line_ids.tax_ids:
            tax_type = mappings.get(tax)
            if not tax_type:
                continue
            xero_rate = (rates or {}).get(tax_type, {}).get("EffectiveRate")
            if xero_rate is None:
                xero_rate = (rates or {}).get(tax_type, {}).get("DisplayTaxRate")
            if xero_rate is not None and Decimal(str(xero_rate)) != Decimal(str(tax.amount)):
                reasons.append(
                    self.env._(
                        "tax %(tax)s (%(rate)s%%) is sent as Xero tax type %(type)s, whose rate "
                        "in Xero is %(xrate)s%%: map it to a tax type of the same rate",
                        tax=tax.display_name,
                        rate=tax.amount,
                        type=tax_type,
                        xrate=xero_rate,
                    )
                )
            elif xero_rate is None:
                reasons.append(
                    self.env._(
                        "tax %(tax)s (%(rate)s%%) is sent as Xero tax type %(type)s: check that "
                        "type's rate in Xero",
                        tax=tax.display_name,
                        rate=tax.amount,
                        type=tax_type,
                    )
                )
        if not reasons or abs(diff) <= Decimal("0.01") * max(len(move.invoice_line_ids), 1):
            reasons.append(
                self.env._("rounding: Xero rounds the tax of each line, Odoo may round globally")
            )
        lines.append(self.env._("Why it may: %s.", "; ".join(reasons)))
        lines.append(
            self.env._(
                "It is marked sent (do not send it again): correct it in Xero or in Odoo, "
                "then Retry compares it again."
            )
        )
        return "\n".join(lines)
