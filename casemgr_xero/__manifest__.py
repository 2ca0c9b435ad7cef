# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Case Manager Xero Integration",
    "summary": "Export posted customer invoices to Xero in batches, exactly once; "
    "mirror Xero payments back through signed webhooks; fix failures on a dashboard.",
    "version": "1.3.0",
    "category": "Accounting/Accounting",
    "author": "casemgr_xero developers",
    "website": "https://example.invalid/casemgr_xero",
    "license": "LGPL-3",
    "depends": ["account", "mail"],
    "external_dependencies": {
        # PyPI distributions (19.0 checks them with importlib.metadata; 18.0 too, then imports)
        "python": ["xero-python", "casemgr-xero-core"],
    },
    "data": [
        "security/casemgr_xero_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/xero_connection_views.xml",
        "views/xero_mapping_views.xml",
        "views/xero_failure_views.xml",
        "views/account_move_views.xml",
        "wizards/xero_tenant_select_wizard_views.xml",
        "wizards/xero_export_wizard_views.xml",
        "wizards/xero_drift_wizard_views.xml",
        "wizards/xero_mapping_suggest_wizard_views.xml",
        "views/casemgr_xero_menus.xml",
        "views/xero_app_views.xml",
        "views/xero_payment_views.xml",
        "data/xero_failure_data.xml",
        "views/xero_connection_dashboard_views.xml",
        "wizards/xero_csv_export_wizard_views.xml",
        "views/xero_dashboard_menus.xml",
    ],
    # A (re)spawned prefork cron worker polls at once (hooks.py): active where the master loads
    # the module before forking (-d / db_name, or --load=base,web,casemgr_xero).
    "post_load": "_xero_post_load",
    "assets": {
        "web.assets_backend": [
            "casemgr_xero/static/src/**/*",
        ],
        "web.assets_tests": [
            "casemgr_xero/static/tests/tours/*.js",
        ],
    },
}
