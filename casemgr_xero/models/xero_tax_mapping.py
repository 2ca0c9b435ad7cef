# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from casemgr_xero_core.csv_template import NO_TAX_CODE

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .. import compat


@compat.sql_constraints(
    ("tax_uniq", "UNIQUE (company_id, tax_id)", "This tax is already mapped."),
)
class XeroTaxMapping(models.Model):
    """Odoo tax → Xero tax rate, known two ways: its ``TaxType`` code, which the API takes
    (``OUTPUT2``), and its display name, which Xero's import file takes (``15% GST on Income``,
    the ``Name`` beside the ``TaxType`` in ``GET /TaxRates``).

    *Check mappings* fills whichever is missing from the organisation's tax rates; a firm that
    never connects types the name. A taxed line whose tax has no mapping is not exported.
    """

    _name = "xero.tax.mapping"
    _inherit = "xero.mapping.mixin"
    _description = "Xero Tax Mapping"
    _rec_name = "tax_id"
    _xero_key_field = "tax_id"
    _xero_value_field = "xero_tax_type"

    tax_id = fields.Many2one("account.tax", required=True, ondelete="cascade", check_company=True)
    xero_tax_type = fields.Char(
        string="Xero TaxType",
        help="The tax rate's code in Xero's API (e.g. OUTPUT2), needed to send by the API. "
        "Check mappings fills it from the name when the company is connected.",
    )
    xero_tax_name = fields.Char(
        string="Xero tax rate name",
        help="The tax rate's name as your Xero organisation shows it (e.g. '15% GST on Income', "
        "'20% (VAT on Income)'), needed in Xero's CSV import file. Check mappings fills it "
        "from the TaxType when the company is connected.",
    )

    @api.constrains("xero_tax_type", "xero_tax_name")
    def _check_xero_tax(self):
        for mapping in self:
            if (
                not (mapping.xero_tax_type or "").strip()
                and not (mapping.xero_tax_name or "").strip()
            ):
                raise ValidationError(
                    self.env._(
                        "Xero tax mapping of %s: give the Xero TaxType or the tax rate's name.",
                        mapping.tax_id.display_name,
                    )
                )

    @api.model
    def _xero_values(self, companies):
        """{tax id: TaxType}; with context ``xero_tax_names`` (the CSV file): {tax id: name}."""
        if self.env.context.get("xero_tax_names"):
            return {
                m.tax_id.id: m.xero_tax_name.strip()
                for m in self.search([("company_id", "in", companies.ids)])
                if (m.xero_tax_name or "").strip()
            }
        return super()._xero_values(companies)

    @api.model
    def _xero_fill(self, company, tax_rates):
        """Complete ``company``'s mappings from the organisation's tax rates (``GET /TaxRates``):
        the display name beside each TaxType, the TaxType of each name typed alone, and the
        company's name for lines without tax (TaxType ``NONE``). Xero's spelling wins.

        Returns {tax label: TaxType} for ``check_settings``, or None when Xero did not list its
        tax rates (nothing changed)."""
        if tax_rates is None:
            return None
        rates = [r for r in tax_rates if r.get("TaxType") and (r.get("Name") or "").strip()]
        rates.sort(key=lambda r: r.get("Status", "ACTIVE") == "ACTIVE")  # active ones win
        name_of = {r["TaxType"]: r["Name"].strip() for r in rates}
        type_of = {r["Name"].strip().casefold(): r["TaxType"] for r in rates}
        mappings = self.search([("company_id", "=", company.id)])
        for mapping in mappings:
            tax_type = (mapping.xero_tax_type or "").strip()
            if not tax_type:
                tax_type = type_of.get((mapping.xero_tax_name or "").strip().casefold())
            vals = {"xero_tax_type": tax_type, "xero_tax_name": name_of.get(tax_type)}
            vals = {k: v for k, v in vals.items() if v and v != mapping[k]}
            if vals:
                mapping.write(vals)
        if name_of.get(NO_TAX_CODE) and company.xero_no_tax_name != name_of[NO_TAX_CODE]:
            company.sudo().xero_no_tax_name = name_of[NO_TAX_CODE]
        return {m.tax_id.display_name: m.xero_tax_type or "" for m in mappings}
