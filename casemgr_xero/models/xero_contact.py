# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Partner <-> Xero contact bindings and the organisation's contact directory."""

from datetime import timedelta

from casemgr_xero_core import mapping
from casemgr_xero_core.batching import chunks
from casemgr_xero_core.contacts import Who, match_contacts

from odoo import fields, models

from .. import compat
from ..const import CONTACT_LOCK
from ..outcomes import Cause, ProblemLine
from ..transaction import commit_batch

CONTACT_SYNC = timedelta(minutes=10)


@compat.sql_constraints(
    (
        "partner_uniq",
        "UNIQUE (connection_id, partner_id)",
        "This partner is already bound to a Xero contact.",
    ),
    (
        "contact_uniq",
        "UNIQUE (connection_id, xero_contact_id)",
        "This Xero contact is already bound to another partner.",
    ),
)
class XeroContact(models.Model):
    """A Xero contact of a connection's organisation, and the Odoo partner bound to it.

    Rows without a partner are the organisation's other contacts, kept up to date from
    ``GET /Contacts`` with If-Modified-Since: new partners are matched against them without
    a lookup call per batch.
    """

    _name = "xero.contact"
    _description = "Xero Contact"
    _rec_name = "name"

    connection_id = fields.Many2one(
        "xero.connection", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    partner_id = fields.Many2one("res.partner", ondelete="set null", index=True)
    xero_contact_id = fields.Char(string="Xero ContactID", required=True, index=True)
    name = fields.Char(string="Name in Xero")
    email = fields.Char(string="E-mail in Xero")
    contact_number = fields.Char(string="Contact number in Xero")

    # ------------------------------------------------------------------
    # Binding partners of a batch (the export service calls this)
    # ------------------------------------------------------------------
    def _xero_resolve_contacts(self, conn, client, moves, data):
        """Bind every partner of ``moves`` to a Xero ContactID (few calls per batch).

        Returns {move id: ProblemLine} for moves whose contact could not be resolved.
        """
        Binding = self.env["xero.contact"].sudo()
        partners = moves.partner_id.commercial_partner_id
        bindings = {
            b.partner_id.id: b.xero_contact_id
            for b in Binding.search(
                [("connection_id", "=", conn.id), ("partner_id", "in", partners.ids)]
            )
        }
        missing = partners.filtered(lambda p: p.id not in bindings and p.name)
        if missing:
            # Policy exception (``transaction.py``): the contact lock is held across calls
            # to Xero. Two workers must never create the same contact, so one at a time reads
            # the organisation's contacts, creates the missing ones and commits the bindings
            # before the next one looks. It covers those few calls, never the invoices' PUT.
            self.env.cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CONTACT_LOCK, conn.id])
            # READ COMMITTED (commit_batch): from here on we see what the last holder committed.
            self.env.invalidate_all()
            self._xero_create_contacts(conn, client, missing, bindings, self.env(su=True))
            commit_batch(self.env)  # the bindings, and the lock released
        errors = {}
        for move in moves:
            partner = move.partner_id.commercial_partner_id
            contact_id = bindings.get(partner.id)
            if contact_id:
                data[move.id].contact.xero_contact_id = contact_id
            else:
                errors[move.id] = ProblemLine(
                    self.env._(
                        "Invoice %(inv)s: customer %(partner)s could not be matched or created "
                        "in Xero (field Customer).",
                        inv=move.name,
                        partner=partner.display_name or self.env._("(no name)"),
                    ),
                    Cause("contact", partner._name, partner.id),
                )
        return errors

    def _xero_create_contacts(self, conn, client, missing, bindings, lock_env):
        """Bind ``missing`` partners: match the organisation's contacts we know (refreshed at
        most every CONTACT_SYNC), else create them in batches. Runs under the contact lock; the
        caller commits the new bindings."""
        Contact = lock_env["xero.contact"]
        for b in Contact.search(
            [("connection_id", "=", conn.id), ("partner_id", "in", missing.ids)]
        ):
            bindings[b.partner_id.id] = b.xero_contact_id  # bound meanwhile by another worker
        missing = missing.filtered(lambda p: p.id not in bindings)
        if not missing:
            return
        lconn = conn.with_env(lock_env)
        now = fields.Datetime.now()
        synced_at = None
        if not lconn.contacts_synced_at or lconn.contacts_synced_at < now - CONTACT_SYNC:
            synced_at = self._xero_sync_contact_directory(lconn, client)
        to_create = self._xero_match_contacts(lconn, missing, bindings)
        if to_create:
            failed = self._xero_post_contacts(lconn, client, to_create, bindings)
            if failed:
                # Xero refuses a second contact of the same name: someone may have made it
                # since our last read. Read again, match again; the rest stay unresolved.
                synced_at = self._xero_sync_contact_directory(lconn, client) or synced_at
                self._xero_match_contacts(lconn, failed, bindings)
        if synced_at:
            # Written after the last call to Xero: a token refresh locks the connection row.
            lconn.contacts_synced_at = synced_at

    def _xero_sync_contact_directory(self, conn, client):
        """Upsert the contacts Xero changed since the last read (all of them the first time).

        Returns when this read started (the caller stores it as ``contacts_synced_at``)."""
        started = fields.Datetime.now()
        since = conn.contacts_synced_at
        contacts = client.list_contacts(if_modified_since=since)
        Contact = conn.env["xero.contact"]
        known = {
            c.xero_contact_id: c
            for c in Contact.search(
                [
                    ("connection_id", "=", conn.id),
                    ("xero_contact_id", "in", [c["ContactID"] for c in contacts]),
                ]
            )
        }
        new_vals = []
        for contact in contacts:
            vals = {
                "name": contact.get("Name") or False,
                "email": contact.get("EmailAddress") or False,
                "contact_number": contact.get("ContactNumber") or False,
            }
            row = known.get(contact["ContactID"])
            if row:
                if any((row[k] or False) != v for k, v in vals.items()):
                    row.write(vals)
            else:
                new_vals.append(
                    {"connection_id": conn.id, "xero_contact_id": contact["ContactID"], **vals}
                )
                known[contact["ContactID"]] = True
        if new_vals:
            Contact.create(new_vals)
        return started

    def _xero_match_contacts(self, conn, partners, bindings):
        """Bind each partner to the one unbound Xero contact with its reference, else e-mail,
        else name (``contacts.match_contacts``); return the partners left to create."""
        free = conn.env["xero.contact"].search(
            [("connection_id", "=", conn.id), ("partner_id", "=", False)]
        )
        matched = match_contacts(
            [Who(p.id, p.ref, p.email, p.name) for p in partners],
            [Who(c.id, c.contact_number, c.email, c.name) for c in free],
        )
        for contact in free.filtered(lambda c: c.id in matched.values()):
            partner_id = next(p for p, c in matched.items() if c == contact.id)
            contact.partner_id = partner_id
            bindings[partner_id] = contact.xero_contact_id
        return partners.filtered(lambda p: p.id not in matched)

    def _xero_post_contacts(self, conn, client, partners, bindings):
        """Create ``partners`` in Xero in batches of 50; return those Xero refused."""
        Contact = conn.env["xero.contact"]
        failed = self.env["res.partner"]
        for chunk in chunks(list(partners)):  # as many as Xero takes per request
            payloads = [
                mapping.contact_payload(
                    mapping.ContactData(
                        key=str(p.id),
                        name=p.name,
                        email=p.email or None,
                        contact_number=p.ref or None,
                    )
                )
                for p in chunk
            ]
            created = []
            for partner, item in zip(chunk, client.create_contacts(payloads), strict=True):
                if item.ok:
                    bindings[partner.id] = item.xero_id
                    created.append(
                        {
                            "connection_id": conn.id,
                            "partner_id": partner.id,
                            "xero_contact_id": item.xero_id,
                            "name": partner.name,
                            "email": partner.email or False,
                            "contact_number": partner.ref or False,
                        }
                    )
                else:
                    failed |= partner
            if created:
                Contact.create(created)
        return failed
