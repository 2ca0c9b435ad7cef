# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The addon's fixed names and numbers, in one place: its HTTP routes and its advisory locks.

Routes: the controller declares them, the models show them (a connection's redirect URI and
webhook URL). Each ``*_URL`` is the ``%s``-template of its route, filled with the record id.

Advisory locks: every ``pg_advisory_*lock(LOCK, key)`` the addon takes uses one of these as its
first (class) number, so two locks of the addon never collide and PostgreSQL's ``pg_locks``
(``classid``) tells which is which. Odoo core uses single-number advisory locks only.
"""

# ---------------------------------------------------------------------------- routes
# Xero redirects the user here after consent (the connection's redirect URI).
OAUTH_CALLBACK_ROUTE = "/xero/oauth/callback"
# Xero POSTs an app's signed events here: one URL and one key per Xero app.
WEBHOOK_APP_ROUTE = "/xero/webhook/app/<int:app_id>"
WEBHOOK_APP_URL = "/xero/webhook/app/%s"
# A connection's own URL, registered before apps existed: the same as its app's URL.
WEBHOOK_CONNECTION_ROUTE = "/xero/webhook/<int:connection_id>"
WEBHOOK_CONNECTION_URL = "/xero/webhook/%s"

# ---------------------------------------------------------------------------- advisory locks
# pg_advisory_xact_lock(CLAIM_LOCK, token of an export claim's attempt key): held, on a
# connection of its own, while the claimant lives (``tools.ClaimLiveness``); read in pg_locks.
CLAIM_LOCK = 0x58434C4D  # "XCLM"
# pg_advisory_xact_lock(CONTACT_LOCK, connection id): one worker at a time creates contacts in
# an organisation (``xero.contact._xero_resolve_contacts``).
CONTACT_LOCK = 0x5845524F  # "XERO"
# pg_advisory_xact_lock(PAYMENTS_RUN_LOCK, RUN | GATE): RUN held, on a connection of its own,
# while a payments cron run lives; GATE held shared by a webhook delivery that found RUN held
# until it commits, and by the run at its end (``xero.payment.import._cron_xero_payments``).
PAYMENTS_RUN_LOCK = 0x5850524E  # "XPRN"
