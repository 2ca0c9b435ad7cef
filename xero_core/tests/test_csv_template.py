import csv
import io

from casemgr_xero_core.csv_template import COLUMNS, invoice_rows, write_csv_files

from helpers import make_invoice


def test_columns_exact():
    assert COLUMNS[0] == "*ContactName" and COLUMNS[-1] == "BrandingTheme" and len(COLUMNS) == 27


def test_rows_and_files():
    rows = invoice_rows(make_invoice(3))
    assert len(rows) == 4 and rows[0]["*InvoiceDate"] == "01/06/2024"
    assert rows[1]["*Quantity"] == "2" and rows[1]["*UnitAmount"] == "150.1234"
    assert rows[1]["TrackingName1"] == "Region" and rows[2]["Discount"] == "10"
    assert rows[3]["*AccountCode"] == "" and rows[3]["*Description"] == "Thanks for your business"
    files = write_csv_files([make_invoice(i) for i in range(1, 6)], max_per_file=2)
    assert [f[0] for f in files] == [
        "xero-invoices-001.csv",
        "xero-invoices-002.csv",
        "xero-invoices-003.csv",
    ]
    reader = csv.DictReader(io.StringIO(files[0][1].decode()))
    assert reader.fieldnames == COLUMNS
    assert len(list(reader)) == 8
