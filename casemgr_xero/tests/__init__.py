from . import test_xero_connection
