from . import xero_invoice_filter_mixin
from . import xero_tenant_select_wizard
from . import xero_export_wizard
from . import xero_drift_wizard
from . import xero_csv_export_wizard
from . import account_payment_register
from . import xero_mapping_suggest_wizard
