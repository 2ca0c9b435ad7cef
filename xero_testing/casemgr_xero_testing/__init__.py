"""Test tools for casemgr_xero_core and the casemgr_xero addon, never needed at run time: the
fault proxy in front of xero-local (which adds what xero-local lacks, as Xero documents it),
xero-local as a subprocess, signed webhook payloads, Xero's OpenAPI schema checks and pytest
fixtures. Stdlib only, plus pytest (fixtures) and jsonschema/pyyaml (``openapi``)."""
