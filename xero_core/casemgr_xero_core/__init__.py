"""Pure-Python Xero protocol layer used by the casemgr_xero Odoo addon.

Never imports odoo. Plain dicts / dataclasses in and out.
"""

__version__ = "0.1.0"
