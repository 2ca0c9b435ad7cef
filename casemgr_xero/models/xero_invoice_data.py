# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Invoices as plain data for the pure layer (the API export, the CSV export, the benches)."""

from casemgr_xero_core import mapping
from casemgr_xero_core.validation import invoice_problems

from odoo import models
from odoo.tools import float_is_zero

from .. import texts
from ..outcomes import Cause, ProblemLine


class XeroInvoiceData(models.AbstractModel):
    _name = "xero.invoice.data"
    _description = "Xero invoice data (ORM to plain data)"

    def _xero_invoice_data(self, conn, moves):
        """{move id: mapping.InvoiceData} for ``moves`` (read in bulk, in their company: account
        codes are company-dependent, and a cron runs in the main company)."""
        # ``conn`` may be empty (the CSV file needs no connection); mappings are per company.
        company = conn.company_id or moves.company_id[:1]
        self = self.with_company(company)  # noqa: PLW0642
        moves = moves.with_company(company)
        account_codes = self.env["xero.account.mapping"]._xero_values(moves.company_id)
        tax_types = self.env["xero.tax.mapping"]._xero_values(moves.company_id)
        tracking_by_plan = self.env["xero.tracking.mapping"]._xero_values(moves.company_id)
        analytic_ids = {
            int(aid)
            for dist in moves.invoice_line_ids.mapped("analytic_distribution")
            if dist
            for key in dist
            for aid in str(key).split(",")
        }
        analytic = {a.id: a for a in self.env["account.analytic.account"].browse(analytic_ids)}
        result = {}
        for move in moves:
            partner = move.partner_id.commercial_partner_id
            lines = []
            taxes_seen = move.invoice_line_ids.tax_ids
            included = {t.price_include for t in taxes_seen}
            if not taxes_seen:
                amount_types = "NoTax"
            elif included == {True}:
                amount_types = "Inclusive"
            else:
                amount_types = "Exclusive"
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
                if len(line.tax_ids) == 1:
                    tax_type = tax_types.get(line.tax_ids.id)  # None: reported as unmapped
                elif not line.tax_ids and amount_types != "NoTax":
                    tax_type = "NONE"
                tracking = []
                for key in line.analytic_distribution or {}:
                    for aid in str(key).split(","):
                        account = analytic.get(int(aid))
                        category = account and tracking_by_plan.get(account.root_plan_id.id)
                        if category and (category, account.name) not in tracking:
                            tracking.append((category, account.name))
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
                        tax_count=len(line.tax_ids),
                        tax_label=line.tax_ids[:1].name or None,
                        tax_key=line.tax_ids[:1].id or None,
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
                status=conn.invoice_status or "DRAFT",
                total=move.amount_total,
                mixed_tax_inclusion=len(included) > 1,
            )
        return result

    # ------------------------------------------------------------------
    # The core's problems, in the user's language (worded in ../texts.py)
    # ------------------------------------------------------------------
    def _xero_problems(self, inv):
        """Why ``inv`` (InvoiceData) cannot be sent: one ``ProblemLine`` per problem, in the
        user's language; an unmapped tax is its cause (one dashboard card per tax)."""
        out = []
        for problem in invoice_problems(inv):
            cause = None
            if problem.code == "tax_unmapped" and problem.line:
                tax = self.env["account.tax"].browse(inv.lines[problem.line - 1].tax_key or [])
                if tax:
                    cause = Cause("mapping", tax._name, tax.id)
            out.append(ProblemLine(texts.problem_text(self.env, problem), cause))
        return out
