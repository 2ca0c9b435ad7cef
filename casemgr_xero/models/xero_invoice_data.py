# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Invoices as plain data for the pure layer (the API export, the CSV export, the benches)."""

from casemgr_xero_core import mapping

from odoo import models
from odoo.tools import float_is_zero


class XeroInvoiceData(models.AbstractModel):
    _name = "xero.invoice.data"
    _description = "Xero invoice data (ORM to plain data)"

    def _xero_invoice_data(self, conn, moves):
        """{move id: mapping.InvoiceData} for ``moves`` (read in bulk, in their company: account
        codes are company-dependent, and a cron runs in the main company)."""
        self = self.with_company(conn.company_id)  # noqa: PLW0642
        moves = moves.with_company(conn.company_id)
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
                        account_code=account_codes.get(line.account_id.id, line.account_id.code),
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
