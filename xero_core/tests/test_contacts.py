from casemgr_xero_core.contacts import Who, match_contacts


def test_reference_then_email_then_name():
    free = [
        Who("c1", reference="C-1", name="Other name"),
        Who("c2", email="ann@example.com"),
        Who("c3", name="Bob Ltd"),
    ]
    customers = [
        Who(1, reference=" c-1 ", name="Anything"),
        Who(2, email="ANN@example.com"),
        Who(3, name=" bob ltd"),
    ]
    assert match_contacts(customers, free) == {1: "c1", 2: "c2", 3: "c3"}


def test_never_a_guess_between_two():
    free = [Who("c1", name="Acme"), Who("c2", name="acme ")]
    assert match_contacts([Who(1, name="Acme")], free) == {}


def test_a_contact_goes_to_one_customer():
    free = [Who("c1", name="Acme")]
    assert match_contacts([Who(1, name="Acme"), Who(2, name="Acme")], free) == {1: "c1"}


def test_an_empty_value_matches_nothing():
    free = [Who("c1", reference="", email="", name="")]
    assert match_contacts([Who(1)], free) == {}
