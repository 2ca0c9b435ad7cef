# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The dashboard's health line: one per company the user works in, from the database only.

A fixed number of queries whatever the number of invoices, failures or events (one per table,
each grouped by connection or company), and never a call to Xero: the dashboard opens as fast
with 100,000 invoices as with ten.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, time, timezone

import pytz

from odoo import api, fields, models
from odoo.tools.misc import format_datetime

OPEN_STATES = ("open", "retrying")


@dataclass(frozen=True)
class HealthLine:
    """What the dashboard says about one company's Xero connection (times in UTC, naive)."""

    company_id: int
    company: str
    connection_id: int
    connection: str
    connection_state: str
    queued: int = 0
    sending: int = 0
    sent_today: int = 0
    open_failures: int = 0
    paused_until: datetime | None = None
    payments_enabled: bool = False
    last_payment_poll: datetime | None = None
    last_webhook: datetime | None = None
    token_expires_at: datetime | None = None

    @property
    def reconnect_needed(self):
        return self.connection_state == "needs_reconnect"

    @property
    def connected(self):
        return self.connection_state == "connected"


class XeroHealth(models.AbstractModel):
    _name = "xero.health"
    _description = "Xero sync health (dashboard)"

    @api.model
    def _xero_tz(self):
        """The user's time zone (the context's, else their preference; UTC when unknown)."""
        try:
            return pytz.timezone(self.env.context.get("tz") or self.env.user.tz or "UTC")
        except pytz.UnknownTimeZoneError:
            return pytz.utc

    @api.model
    def _xero_today_start(self):
        """Midnight of the user's today, in UTC (naive, as Odoo stores datetimes)."""
        tz = self._xero_tz()
        today = datetime.now(tz).date()
        return (
            tz.localize(datetime.combine(today, time.min)).astimezone(pytz.utc).replace(tzinfo=None)
        )

    @api.model
    def _xero_health_lines(self):
        """One ``HealthLine`` per active connection of the user's current companies
        (``env.companies``, the company switcher's choice within the user's companies)."""
        self.env["xero.failure"].check_access("read")
        conns = self.env["xero.connection"].search([("company_id", "in", self.env.companies.ids)])
        if not conns:
            return []
        now = fields.Datetime.now()
        moves = {cid: {} for cid in conns.ids}
        groups = self.env["account.move"]._read_group(
            [
                ("xero_connection_id", "in", conns.ids),
                "|",
                ("xero_state", "in", ("queued", "sending")),
                "&",
                ("xero_state", "=", "sent"),
                ("xero_sent_at", ">=", self._xero_today_start()),
            ],
            ["xero_connection_id", "xero_state"],
            ["__count"],
        )
        for conn, state, count in groups:
            moves[conn.id][state] = count
        failures = {
            company.id: count
            for company, count in self.env["xero.failure"]._read_group(
                [("company_id", "in", conns.company_id.ids), ("state", "in", OPEN_STATES)],
                ["company_id"],
                ["__count"],
            )
        }
        # Webhook events are a billing administrator's to read; their date is everyone's.
        webhooks = {
            conn.id: last
            for conn, last in self.env["xero.webhook.event"]
            .sudo()
            ._read_group(
                [("connection_id", "in", conns.ids)], ["connection_id"], ["create_date:max"]
            )
        }
        lines = []
        for conn in conns.sudo():  # token expiry is a system field; the rows are the user's
            counts = moves[conn.id]
            expires, paused = conn.token_expires_at, conn.not_before
            lines.append(
                HealthLine(
                    company_id=conn.company_id.id,
                    company=conn.company_id.name,
                    connection_id=conn.id,
                    connection=conn.name,
                    connection_state=conn.state,
                    queued=counts.get("queued", 0),
                    sending=counts.get("sending", 0),
                    sent_today=counts.get("sent", 0),
                    open_failures=failures.get(conn.company_id.id, 0),
                    paused_until=paused if paused and paused > now else None,
                    payments_enabled=conn.payments_enabled,
                    last_payment_poll=conn.last_payment_poll or None,
                    last_webhook=webhooks.get(conn.id) or None,
                    token_expires_at=(
                        datetime.fromtimestamp(expires, timezone.utc).replace(tzinfo=None)
                        if expires
                        else None
                    ),
                )
            )
        return lines

    @api.model
    def get_xero_health(self):
        """The health lines for the dashboard (its OWL header calls this): the figures as they
        are, the times formatted for the user (their language and time zone)."""
        tz = self._xero_tz().zone
        rows = []
        for line in self._xero_health_lines():
            row = asdict(line)
            for key in ("paused_until", "last_payment_poll", "last_webhook", "token_expires_at"):
                when = row[key]
                row[key] = (
                    format_datetime(self.env, when, tz=tz, dt_format="short") if when else False
                )
            row["reconnect_needed"] = line.reconnect_needed
            row["connected"] = line.connected
            rows.append(row)
        return rows
