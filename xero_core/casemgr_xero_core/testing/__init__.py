"""Test helpers shared by the pure tests and the Odoo addon tests (stdlib only, plus
jsonschema/pyyaml for ``openapi``)."""
