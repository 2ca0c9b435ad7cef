/** @odoo-module */
// A credit note made in Xero: its card on the dashboard, Make draft, post the draft
// (run by casemgr_xero/tests/test_xero_changes.py, HttpCase.start_tour).

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("casemgr_xero_change_credit_draft", {
    steps: () => [
        {
            content: "The card says what Xero did",
            trigger: ".o_kanban_record:contains(Xero credited):contains(CN-TOUR)",
        },
        {
            content: "Make draft",
            trigger: ".o_kanban_record:contains(CN-TOUR) button:contains(Make draft)",
            run: "click",
        },
        {
            content: "The draft credit note of the Xero credit note",
            trigger: ".o_breadcrumb:contains(Xero credit note CN-TOUR)",
        },
        {
            content: "With its line (its label: a text area on 18.0, checked in Python)",
            trigger: ".o_form_view [name=invoice_line_ids] .o_data_row:contains(120.00)",
        },
        {
            content: "A person posts it",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_post]",
            run: "click",
        },
        {
            content: "Posted",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains(Posted)",
        },
    ],
});
