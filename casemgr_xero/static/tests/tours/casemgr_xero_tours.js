/** @odoo-module */
// Browser tours of casemgr_xero, run by casemgr_xero/tests/test_tours.py (HttpCase.start_tour).

import { registry } from "@web/core/registry";
import { rpc } from "@web/core/network/rpc";

const tours = registry.category("web_tour.tours");

/** What the cron worker would do a second later: run "Xero: export queued invoices" now. */
async function runExportCron() {
    const crons = await rpc("/web/dataset/call_kw/ir.cron/search_read", {
        model: "ir.cron",
        method: "search_read",
        args: [[["cron_name", "=", "Xero: export queued invoices"]], ["id"]],
        kwargs: {},
    });
    if (crons.length !== 1) {
        throw new Error(`expected one export cron, found ${crons.length}`);
    }
    await rpc("/web/dataset/call_kw/ir.cron/method_direct_trigger", {
        model: "ir.cron",
        method: "method_direct_trigger",
        args: [[crons[0].id]],
        kwargs: {},
    });
}

/** Fail early, with Xero's message, when the export did not send the tour's invoices. */
async function checkSent(partnerNames) {
    const moves = await rpc("/web/dataset/call_kw/account.move/search_read", {
        model: "account.move",
        method: "search_read",
        args: [[["partner_id.name", "in", partnerNames]], ["name", "xero_state", "xero_error"]],
        kwargs: {},
    });
    const notSent = moves.filter((m) => m.xero_state !== "sent");
    if (notSent.length) {
        throw new Error(`not sent to Xero: ${JSON.stringify(notSent)}`);
    }
}

function row(text) {
    return `.o_list_renderer tr.o_data_row:has(td:contains("${text}"))`;
}

// Invoice list: select two invoices, Action > Send to Xero, the Xero badge turns Sent.
tours.add("casemgr_xero_send_invoices", {
    steps: () => [
        { trigger: ".o_breadcrumb:contains(Invoices)" },
        {
            content: "Select the first invoice of Tour Client A",
            trigger: `${row("Tour Client A")} .o_list_record_selector input`,
            run: "click",
        },
        {
            content: "Select the invoice of Tour Client B",
            trigger: `${row("Tour Client B")} .o_list_record_selector input`,
            run: "click",
        },
        {
            content: "Open the Action menu",
            trigger: ".o_cp_action_menus .dropdown-toggle:contains(Actions)",
            run: "click",
        },
        {
            content: "Send to Xero",
            trigger: ".o-dropdown--menu .dropdown-item:contains(Send to Xero)",
            run: "click",
        },
        {
            content: "Odoo says they are queued",
            trigger: ".o_notification:contains(2 invoice(s) queued for Xero)",
        },
        {
            content: "They show as Queued",
            trigger: `${row("Tour Client B")} .badge:contains(Queued)`,
            async run() {
                await runExportCron();
                await checkSent(["Tour Client A", "Tour Client B"]);
            },
        },
        {
            content: "Filter on invoices in Xero (reloads the list)",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            trigger: ".o_filter_menu .o_menu_item:contains(/^In Xero$/)",
            run: "click",
        },
        {
            content: "The badge says Sent",
            trigger: `${row("Tour Client A")} .badge:contains(Sent)`,
        },
        { trigger: `${row("Tour Client B")} .badge:contains(Sent)` },
    ],
});

// Invoicing > Xero > Export invoices: filter by customer, export.
tours.add("casemgr_xero_export_wizard", {
    steps: () => [
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu .dropdown-toggle",
            run: "click",
        },
        {
            content: "Open Invoicing",
            trigger: '.o_app[data-menu-xmlid="account.menu_finance"]',
            run: "click",
        },
        {
            content: "Open the Xero menu",
            trigger: '.o_menu_sections [data-menu-xmlid="casemgr_xero.menu_xero_root"]',
            run: "click",
        },
        {
            trigger: '.o-dropdown--menu [data-menu-xmlid="casemgr_xero.menu_xero_export"]',
            run: "click",
        },
        {
            content: "The wizard counts every invoice not in Xero yet",
            trigger: ".modal .o_form_view [name=move_count]:contains(3)",
        },
        {
            content: "Only Tour Client B",
            trigger: ".modal [name=partner_ids] input",
            run: "edit Tour Client B",
        },
        {
            trigger: ".ui-autocomplete .dropdown-item:contains(Tour Client B)",
            run: "click",
        },
        {
            content: "One invoice left",
            trigger: ".modal .o_form_view [name=move_count]:contains(1)",
        },
        {
            trigger: ".modal-footer button[name=action_xero_export]",
            run: "click",
        },
        {
            content: "Queued",
            trigger: ".o_notification:contains(1 invoice(s) queued for Xero)",
        },
    ],
});

// Failures: open the card of a tax since mapped, then an invoice it blocked; send it again.
tours.add("casemgr_xero_failure_resend", {
    steps: () => [
        {
            content: "The failure lists Xero's reason",
            trigger: ".o_list_renderer tr.o_data_row:contains(has no Xero tax type) td[name=name]",
            run: "click",
        },
        {
            content: "The card is about the cause (the tax); open the invoice it blocked",
            trigger: ".o_form_view button[name=action_xero_open_blocked]",
            run: "click",
        },
        {
            content: "The invoice says why Xero refused it",
            trigger: ".o_form_view .alert-danger:contains(Xero refused this invoice)",
        },
        {
            content: "Send it again",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_xero_send]",
            run: "click",
        },
        { trigger: ".o_notification:contains(1 invoice(s) queued for Xero)" },
    ],
});

// Dashboard (kanban of failures): Retry a failure whose cause was fixed.
tours.add("casemgr_xero_dashboard_retry", {
    steps: () => [
        {
            content: "The failure card",
            trigger: ".o_kanban_record:contains(has no Xero tax type)",
        },
        {
            content: "Retry",
            trigger: ".o_kanban_record:contains(has no Xero tax type) button:contains(Retry)",
            run: "click",
        },
        {
            content: "The card moves from the Open column to Retrying",
            trigger: ".o_kanban_group:has(.o_column_title:contains(Retrying)) .o_kanban_record:contains(has no Xero tax type)",
        },
    ],
});

// Connection form: Test connection.
tours.add("casemgr_xero_test_connection", {
    steps: () => [
        {
            trigger: ".o_form_view button[name=action_xero_test_connection]",
            run: "click",
        },
        {
            content: "Xero answered",
            trigger: ".o_notification:contains(Connected to Xero):contains(Organisation: Test Organisation)",
        },
    ],
});

// Dashboard: the health line of the company above the columns, and it follows a Retry.
tours.add("casemgr_xero_dashboard_health", {
    steps: () => [
        {
            content: "One health line, for the one company the user works in",
            trigger: ".o_xero_health tbody tr.o_xero_health_line:only-child:contains(Tour Health Co)",
        },
        {
            content: "One invoice queued, none sending, one sent today, one open failure",
            trigger: ".o_xero_health_queued:contains(/^1$/)",
        },
        { trigger: ".o_xero_health_sending:contains(/^0$/)" },
        { trigger: ".o_xero_health_sent_today:contains(/^1$/)" },
        { trigger: ".o_xero_health_failures.text-danger:contains(/^1$/)" },
        {
            content: "Xero's rate limit pauses the connection",
            trigger: ".o_xero_health_paused .text-warning",
        },
        { trigger: ".o_xero_health_poll:contains(payments from Xero off)" },
        { trigger: ".o_xero_health_webhook:contains(never)" },
        {
            content: "The token is fine (no reconnect needed)",
            trigger: ".o_xero_health_token:contains(until):not(:has(.badge))",
        },
        {
            content: "Retry the failure whose cause was fixed",
            trigger: ".o_kanban_record:contains(has no Xero tax type) button:contains(Retry)",
            run: "click",
        },
        {
            content: "Its invoice is queued again: the line says so",
            trigger: ".o_xero_health_queued:contains(/^2$/)",
        },
    ],
});
