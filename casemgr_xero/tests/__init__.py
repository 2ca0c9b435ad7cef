from . import test_xero_connection
from . import test_export
from . import test_drift
from . import test_bad_inputs
from . import test_security
from . import test_tours
