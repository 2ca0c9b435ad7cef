from . import test_xero_connection
from . import test_export
from . import test_dashboard
from . import test_multi_company
from . import test_csv_export
