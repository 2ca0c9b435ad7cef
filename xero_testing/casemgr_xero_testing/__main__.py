"""``python -m casemgr_xero_testing --upstream URL --port N [--tax-maths] …``: an always-on
test proxy (the demo puts one between Odoo and xero-local)."""

from __future__ import annotations

import threading

from .proxy import FaultProxy


def main(argv=None) -> int:
    """``python -m casemgr_xero_testing --upstream URL --port N [--tax-maths]``:
    an always-on proxy (the demo puts one between Odoo and xero-local)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="casemgr_xero_testing")
    parser.add_argument("--upstream", required=True, help="xero-local URL")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tax-maths", action="store_true", help="fill totals as Xero does")
    parser.add_argument(
        "--unique-numbers", action="store_true", help="refuse duplicate invoice numbers"
    )
    parser.add_argument(
        "--organisation",
        action="append",
        default=[],
        metavar="TENANT_ID=NAME",
        help="answer GET /Organisation for this tenant (repeatable)",
    )
    parser.add_argument(
        "--tax-rate",
        action="append",
        default=[],
        metavar="TAXTYPE=NAME",
        help="answer GET /TaxRates with this active rate (repeatable)",
    )
    args = parser.parse_args(argv)
    orgs = dict(item.split("=", 1) for item in args.organisation)
    rates = [
        {"TaxType": t, "Name": n, "Status": "ACTIVE"}
        for t, n in (item.split("=", 1) for item in args.tax_rate)
    ]
    proxy = FaultProxy(
        args.upstream,
        tax_maths=args.tax_maths,
        port=args.port,
        unique_numbers=args.unique_numbers,
        organisations=orgs,
        tax_rates=rates or None,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_a: stop.set())
    print(f"proxy {proxy.url} -> {args.upstream}", flush=True)
    stop.wait()
    proxy.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
