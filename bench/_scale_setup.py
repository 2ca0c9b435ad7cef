"""The scale bench's set-up: K organisations (companies, connections, users, customers) and
the two ways in from outside Odoo: the users' XML-RPC queueing, a Xero user's own actions."""

import os
import time
import xmlrpc.client

import _harness as h

KEY = "bench-scale-webhook-key"
PASSWORD = "bench-scale-user"


def setup_orgs(registry, xl, proxy, k, users_per_org, customers):
    """K companies, each with a connection (own tenant), payments on, users, customers."""
    orgs = []
    with registry.cursor() as cr:
        env = h.env_of(cr)
        main = env.ref("base.main_company")
        chart = main.chart_template or "generic_coa"
        companies = [main]
        for i in range(1, k):
            company = env["res.company"].create(
                {"name": f"Bench Org {i}", "currency_id": main.currency_id.id}
            )
            env["account.chart.template"].try_loading(chart, company, install_demo=False)
            companies.append(company)
        group = env.ref("account.group_account_invoice")
        for i, company in enumerate(companies):
            tenant = f"bench-tenant-{i}-{os.getpid()}"
            base = proxy.url
            conn = env["xero.connection"].create(
                {
                    "name": f"Bench {i}",
                    "company_id": company.id,
                    "client_id": "C",
                    "client_secret": "S",
                    "api_url": base + h.API,
                    "connections_url": base + "/connections",
                    "token_url": base + "/connect/token",
                    "authorize_url": base + "/authorize",
                    "revocation_url": base + "/connect/revocation",
                }
            )
            conn.sudo().write(
                {
                    "tenant_id": tenant,
                    "tenant_name": f"Bench Org {i}",
                    "state": "connected",
                    "access_token": "A",
                    "refresh_token": "R",
                    "token_expires_at": time.time() + 86400,
                    "payments_enabled": True,
                    "webhook_key": KEY,
                    "last_payment_poll": "2019-01-01 00:00:00",
                }
            )
            bank = env["account.journal"].search(
                [("company_id", "=", company.id), ("type", "=", "bank")], limit=1
            )
            env["xero.payment.journal"].create(
                {"connection_id": conn.id, "xero_account": "090", "journal_id": bank.id}
            )
            from odoo.addons.casemgr_xero import compat  # the addon's one home for series diffs

            users = env["res.users"].create(
                [
                    {
                        "name": f"Bench Biller {i}.{u}",
                        "login": f"biller{i}.{u}",
                        "password": PASSWORD,
                        "company_id": company.id,
                        "company_ids": [(6, 0, [company.id])],
                        compat.GROUPS_FIELD: [(6, 0, [group.id, env.ref("base.group_user").id])],
                    }
                    for u in range(users_per_org)
                ]
            )
            partners = env["res.partner"].create(
                [
                    {"name": f"Org {i} Client {c:03d}", "email": f"o{i}c{c}@example.com"}
                    for c in range(customers)
                ]
            )
            orgs.append(
                {
                    "i": i,
                    "company_id": company.id,
                    "conn_id": conn.id,
                    "tenant": tenant,
                    "logins": users.mapped("login"),
                    "partner_ids": partners.ids,
                }
            )
    return orgs


def xero_direct(xl, tenant):
    """A client straight to the emulator (a Xero user's own actions, outside the app's limits)."""
    from casemgr_xero_core.client import XeroClient
    from casemgr_xero_core.endpoints import XeroEndpoints

    return XeroClient(
        XeroEndpoints.for_base(xl.url),
        tenant,
        get_token=lambda: {"access_token": "bench", "expires_at": time.time() + 9999},
    )


def queue_as(url, db, login, ids):
    """``login`` queues ``ids`` through the public action (the Send to Xero button), 100 an
    XML-RPC call, on the server at ``url``."""
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common", allow_none=True)
    uid = common.authenticate(db, login, PASSWORD, {})
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)
    for start in range(0, len(ids), 100):
        models.execute_kw(
            db, uid, PASSWORD, "account.move", "action_xero_send", [ids[start : start + 100]]
        )
    return len(ids)
