from . import xero_connection
from . import xero_failure
from . import xero_contact
from . import xero_account_mapping
from . import xero_tax_mapping
from . import account_move
from . import xero_tracking_mapping
