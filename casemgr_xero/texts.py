# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The words for what the core reports in codes, each once and translatable.

casemgr_xero_core returns codes and values (``validation.Problem``, ``mapping.SettingProblem``,
``results.Reason``) and holds no text; this module words them in the user's language
(``env._``). ``tests/test_i18n.py`` fails when a code of the core has no text here, or a text
asks for a value the core does not give.
"""


def problem_texts(env):
    """{code: text} for ``casemgr_xero_core.validation.PROBLEM_PARAMS``."""
    return {
        "number_missing": env._("the invoice number is missing."),
        "number_too_long": env._("the invoice number is longer than %(max)s characters."),
        "contact_no_name": env._("the customer (contact) has no name (field Customer)."),
        "contact_name_too_long": env._("the customer name is longer than %(max)s characters."),
        "date_missing": env._("the invoice date is missing (field Invoice Date)."),
        "due_date_missing": env._("the due date is missing (field Due Date)."),
        "currency_invalid": env._("currency code %(currency)r is not a 3-letter ISO code."),
        "currency_rate_invalid": env._("the currency rate must be greater than zero."),
        "amount_types_invalid": env._("line amount type %(value)r must be one of %(allowed)s."),
        "mixed_tax_inclusion": env._(
            "it mixes tax-included and tax-excluded prices (field Taxes): Xero needs one "
            "or the other on an invoice."
        ),
        "status_invalid": env._("status %(status)r cannot be sent to Xero."),
        "no_lines": env._("the invoice has no invoice lines."),
        "total_zero": env._("the total is zero (field Total); it is not sent to Xero."),
        "description_too_long": env._("the description is longer than %(max)s characters."),
        "note_empty": env._("a note/section line needs a text."),
        "description_empty": env._("the description is empty (field Label)."),
        "account_code_missing": env._("no Xero account code (set it on the income account)."),
        "several_taxes": env._("Xero takes one tax rate per line; use a single (group) tax."),
        "tax_unmapped": env._(
            "tax %(tax)s has no Xero tax type (field Taxes; map it under Invoicing > "
            "Configuration > Xero > Tax types)."
        ),
        "tax_type_missing": env._("no Xero tax type (map the tax to a Xero tax rate)."),
        "not_a_number": env._("the %(what)s %(value)r is not a number."),
        "too_many_decimals": env._("the %(what)s %(value)s has more than %(places)s decimals."),
        "discount_out_of_range": env._("the discount %(rate)s%% must be between 0 and 100."),
        "too_many_tracking": env._(
            "Xero takes %(max)s tracking categories per line at most (field Analytic)."
        ),
        "amount_mismatch": env._(
            "the line amount %(amount)s does not match quantity × unit price (%(expected)s)."
        ),
        "amount_mismatch_discount": env._(
            "the line amount %(amount)s does not match quantity × unit price less "
            "%(rate)s%% discount (%(expected)s)."
        ),
    }


def what_texts(env):
    """{what: word} for ``validation.WHAT_VALUES`` (the ``what`` of a number problem)."""
    return {
        "quantity": env._("quantity"),
        "unit price": env._("unit price"),
        "line amount": env._("line amount"),
        "discount": env._("discount"),
    }


def problem_text(env, problem):
    """A ``validation.Problem`` as one line: 'Invoice X, line N (desc): …'."""
    params = dict(problem.params)
    if "what" in params:
        params["what"] = what_texts(env).get(params["what"], params["what"])
    number = problem.invoice or env._("(no number)")
    if problem.line is None:
        where = env._("Invoice %(inv)s", inv=number)
    else:
        where = env._(
            "Invoice %(inv)s, line %(n)s (%(desc)s)",
            inv=number,
            n=problem.line,
            desc=problem.description,
        )
    return "%s: %s" % (where, problem_texts(env)[problem.code] % params)  # noqa: UP031


def setting_texts(env):
    """{code: text} for ``casemgr_xero_core.mapping.SETTING_CODES`` (label, value)."""
    return {
        "account_inactive": env._(
            "Account %(label)s: Xero has no active account with code %(value)r."
        ),
        "tax_no_type": env._(
            "Tax %(label)s: no Xero TaxType, and its name matches no Xero tax rate."
        ),
        "tax_inactive": env._("Tax %(label)s: Xero has no active tax rate %(value)r."),
        "tracking_missing": env._(
            "Analytic plan %(label)s: Xero has no tracking category %(value)r."
        ),
    }


def setting_text(env, problem):
    """A ``mapping.SettingProblem`` in the user's language."""
    return setting_texts(env)[problem.code] % {"label": problem.label, "value": problem.value}


def reason_texts(env):
    """{code: text} for ``casemgr_xero_core.results.REASON_PARAMS``."""
    return {
        "refused_without_reason": env._("Xero rejected this record without giving a reason."),
        "dead_in_xero": env._(
            "%(document)s %(number)s already exists in Xero with status %(status)s; it was "
            "not sent again. Use another number or restore it in Xero."
        ),
        "number_taken": env._(
            "%(document)s number %(number)s is already used in Xero by a document of another "
            "contact; it was not sent. Change the number (or the connection's number prefix)."
        ),
        "not_confirmed": env._(
            "%(document)s %(number)s: Xero did not confirm it after %(tries)s tries."
        ),
        "outcome_unknown": env._(
            "%(document)s %(number)s: Xero's answer was lost and a lookup did not find it; "
            "it is sent again."
        ),
    }


def document_texts(env):
    """{document: word} for ``results.DOCUMENTS``."""
    return {"invoice": env._("Invoice"), "credit_note": env._("Credit note")}


def reason_text(env, reason):
    """A ``results.Reason`` in the user's language."""
    params = dict(reason.params)
    if "document" in params:
        params["document"] = document_texts(env).get(params["document"], params["document"])
    return reason_texts(env)[reason.code] % params


def item_text(env, item):
    """Why the export did not take a document (a core ``ItemResult``): Xero's own words when it
    gave some, else the core's reason, worded here."""
    lines = list(item.messages)
    if item.reason is not None:
        lines.append(reason_text(env, item.reason))
    return "\n".join(lines) or reason_texts(env)["refused_without_reason"]
