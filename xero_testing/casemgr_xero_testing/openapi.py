"""Validate dicts against Xero's published OpenAPI schemas (components/schemas)."""

from __future__ import annotations

import functools
import hashlib
import os
import unittest
import urllib.request
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]

# The spec the checks were written against: XeroAPI/Xero-OpenAPI, release v16.1.0
# (``info.version`` of both files). Downloaded once into the cache, checked against these hashes.
SPEC_RELEASE = "v16.1.0"
SPEC_URL = "https://raw.githubusercontent.com/XeroAPI/Xero-OpenAPI/{release}/{name}"
SPEC_SHA256 = {
    "xero_accounting.yaml": "140f64f8e6bd2d8524b8ffdbffd08589d417efa5466ba57bfa04939a69ff6db8",
    "xero-webhooks.yaml": "822244b387a8e26ca948abd338cbee419b6167408ad615582802346587ed7eac",
}
HOW_TO_ENABLE = (
    "set XERO_OPENAPI_DIR to a folder holding Xero's OpenAPI files (xero_accounting.yaml, "
    f"xero-webhooks.yaml of XeroAPI/Xero-OpenAPI {SPEC_RELEASE}), or allow one download from "
    "raw.githubusercontent.com"
)


class SpecUnavailable(unittest.SkipTest):
    """Xero's spec cannot be had: the schema checks are skipped (never passed).

    A ``unittest.SkipTest``: pytest and Odoo's test runner both count it as a skip."""


def cache_dir() -> Path:
    """$XERO_OPENAPI_CACHE, else <repo>/.cache/xero-openapi/<release>."""
    env = os.environ.get("XERO_OPENAPI_CACHE")
    base = Path(env) if env else _REPO_ROOT / ".cache" / "xero-openapi"
    return base / SPEC_RELEASE


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_download_error: dict[str, str] = {}


def _download(name: str, dest: Path) -> None:
    """Fetch ``name`` of the pinned release into ``dest`` (atomic), or raise OSError."""
    if name in _download_error:  # one attempt per process, not one per test
        raise OSError(_download_error[name])
    url = SPEC_URL.format(release=SPEC_RELEASE, name=name)
    try:
        with urllib.request.urlopen(url, timeout=15) as resp:  # noqa: S310 (fixed https URL)
            data = resp.read()
        got = hashlib.sha256(data).hexdigest()
        if got != SPEC_SHA256[name]:
            raise OSError(f"{url}: sha256 {got} is not the pinned {SPEC_SHA256[name]}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(f".part{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(dest)
    except Exception as exc:  # offline, proxy, HTTP error, checksum
        _download_error[name] = f"download of {url} failed: {exc}"
        raise OSError(_download_error[name]) from exc


def spec_path(name: str = "xero_accounting.yaml") -> Path:
    """Where spec file ``name`` is: $XERO_OPENAPI_DIR, else the checked copy in the cache
    (downloaded on first use). Raises SpecUnavailable (a skip) with why and how to enable."""
    env = os.environ.get("XERO_OPENAPI_DIR")
    if env:
        path = Path(env) / name
        if not path.is_file():
            # explicitly configured but wrong: a configuration error, not a skip
            raise FileNotFoundError(f"XERO_OPENAPI_DIR={env} has no {name}")
        return path
    path = cache_dir() / name
    if path.is_file() and _sha256(path) == SPEC_SHA256.get(name):
        return path
    try:
        _download(name, path)
    except OSError as exc:
        raise SpecUnavailable(
            f"Xero OpenAPI schema check SKIPPED: {exc}. To enable: {HOW_TO_ENABLE}."
        ) from None
    return path


def require_spec(name: str = "xero_accounting.yaml") -> Path:
    """Call first in a schema-check test: skips it (with the reason) when the spec is missing."""
    return spec_path(name)


def spec_dir() -> Path:
    """The folder holding the accounting spec (see spec_path)."""
    return spec_path().parent


@functools.lru_cache(maxsize=4)
def load_spec(name: str = "xero_accounting.yaml") -> dict:
    import yaml

    with open(spec_path(name), encoding="utf-8") as fh:
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
