/** @odoo-module */
// The Xero dashboard (kanban of xero.failure) with a health line per company above its columns.

import { Component, onWillStart, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { KanbanRenderer } from "@web/views/kanban/kanban_renderer";
import { kanbanView } from "@web/views/kanban/kanban_view";

/** One line per company: queue, today's sends, open cards, pacing, payments, token. */
export class XeroHealth extends Component {
    static template = "casemgr_xero.XeroHealth";
    static props = {};

    setup() {
        this.orm = useService("orm");
        this.state = useState({ lines: [] });
        // Read at each (re)mount: the kanban mounts it again after a card's button (Retry,
        // Ignore), so the figures follow (tour casemgr_xero_dashboard_health, 18.0 and 19.0).
        onWillStart(() => this.load());
    }

    async load() {
        this.state.lines = await this.orm.call("xero.health", "get_xero_health", []);
    }
}

export class XeroHealthKanbanRenderer extends KanbanRenderer {
    static template = "casemgr_xero.XeroHealthKanbanRenderer";
    static components = { ...KanbanRenderer.components, XeroHealth };
}

export const xeroHealthKanbanView = {
    ...kanbanView,
    Renderer: XeroHealthKanbanRenderer,
};

registry.category("views").add("xero_health_kanban", xeroHealthKanbanView);
