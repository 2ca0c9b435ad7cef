from casemgr_xero_core.suggest import suggest_account_codes, suggest_tax_types

RATES = [
    {"Name": "GST on Income", "TaxType": "OUTPUT2", "EffectiveRate": 15.0, "Status": "ACTIVE"},
    {"Name": "Old 15%", "TaxType": "OLD15", "EffectiveRate": 15.0, "Status": "DELETED"},
    {
        "Name": "GST on Expenses",
        "TaxType": "INPUT2",
        "EffectiveRate": 15.0,
        "CanApplyToRevenue": False,
    },
    {"Name": "Special 15%", "TaxType": "TAX001", "DisplayTaxRate": 15.0, "Status": "ACTIVE"},
    {"Name": "Zero Rated", "TaxType": "ZERORATEDOUTPUT", "EffectiveRate": 0, "Status": "ACTIVE"},
]


def test_tax_types_same_effective_rate_output_first():
    out = suggest_tax_types([(1, 15.0), (2, 0.0), (3, 12.5)], RATES)
    assert out[1].value == "OUTPUT2"
    assert out[1].label == "GST on Income"
    assert out[1].alternatives == ["TAX001"]
    assert out[2].value == "ZERORATEDOUTPUT"
    assert 3 not in out  # nothing at 12.5 %: no guess


def test_account_codes_by_name_only_when_xero_lacks_the_code():
    xero = [
        {"Code": "200", "Name": "Sales", "Type": "REVENUE", "Status": "ACTIVE"},
        {"Code": "260", "Name": "Other  Revenue", "Type": "OTHERINCOME", "Status": "ACTIVE"},
        {"Code": "090", "Name": "Business Bank", "Type": "BANK", "Status": "ACTIVE"},
        {"Code": "299", "Name": "Sales", "Type": "REVENUE", "Status": "ARCHIVED"},
    ]
    out = suggest_account_codes(
        [
            (1, "400000", "Sales"),
            (2, "200", "Product Sales"),
            (3, "410000", "other revenue"),
            (4, "420000", "Business Bank"),
        ],
        xero,
    )
    assert (out[1].value, out[1].label) == ("200", "Sales")
    assert 2 not in out  # Xero has code 200: sent as is
    assert out[3].value == "260"
    assert 4 not in out  # not a revenue account
