"""Validate dicts against Xero's published OpenAPI schemas (components/schemas)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[3]


def spec_dir() -> Path:
    """$XERO_OPENAPI_DIR, else <repo root>/../shared/xero-openapi."""
    env = os.environ.get("XERO_OPENAPI_DIR")
    candidates = [Path(env)] if env else []
    candidates += [
        _REPO_ROOT.parent / "shared" / "xero-openapi",
        _REPO_ROOT / "shared" / "xero-openapi",
    ]
    for c in candidates:
        if (c / "xero_accounting.yaml").is_file():
            return c
    raise FileNotFoundError(
        "Xero's OpenAPI spec (xero_accounting.yaml) not found; looked in "
        + ", ".join(map(str, candidates))
        + ". Set XERO_OPENAPI_DIR."
    )


@functools.lru_cache(maxsize=4)
def load_spec(name: str = "xero_accounting.yaml") -> dict:
    import yaml

    with open(spec_dir() / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@functools.lru_cache(maxsize=64)
def _validator(schema_name: str, spec_name: str):
    import jsonschema

    spec = load_spec(spec_name)
    schemas = spec["components"]["schemas"]
    if schema_name not in schemas:
        raise KeyError(f"No schema {schema_name!r} in {spec_name}")
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    return jsonschema.Draft202012Validator(root)


def _unknown_keys(instance, schema, schemas, path, out, depth=0):
    if depth > 12:
        return
    while isinstance(schema, dict) and "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if not isinstance(schema, dict):
        return
    if isinstance(instance, dict) and "properties" in schema:
        props = schema["properties"]
        for k, v in instance.items():
            if k not in props:
                out.append(f"{'/'.join(path) or '<root>'}: unknown property {k!r}")
            else:
                _unknown_keys(v, props[k], schemas, path + [k], out, depth + 1)
    elif isinstance(instance, list) and "items" in schema:
        for i, v in enumerate(instance):
            _unknown_keys(v, schema["items"], schemas, path + [str(i)], out, depth + 1)


def validate(
    instance, schema_name: str, *, strict: bool = True, spec_name: str = "xero_accounting.yaml"
):
    """Raise AssertionError naming the path(s) when ``instance`` does not match the schema.

    ``strict`` also rejects property names the schema does not define (catches typos; Xero
    ignores unknown fields silently)."""
    validator = _validator(schema_name, spec_name)
    problems = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "<root>"
        problems.append(f"{where}: {err.message}")
    if strict:
        schemas = load_spec(spec_name)["components"]["schemas"]
        _unknown_keys(instance, schemas[schema_name], schemas, [], problems)
    if problems:
        raise AssertionError(
            f"{schema_name} does not match Xero's OpenAPI schema:\n  " + "\n  ".join(problems[:20])
        )
