import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.units import format_units, parse_units


def test_it_shows_every_base_unit_without_rounding():
    assert format_units(1_500_000_001, 9) == "1.500000001"
    assert format_units(12_000_000_000, 9) == "12"
    assert format_units(1_234_567_000_000, 6) == "1,234,567"
    assert format_units(5, 6) == "0.000005"


def test_it_refuses_more_decimals_than_the_token_has():
    with pytest.raises(ValueError, match="at most 6 decimal places"):
        parse_units("1.0000001", 6)
    with pytest.raises(ValueError):
        parse_units("abc", 6)


@given(st.integers(min_value=0, max_value=2**64 - 1), st.sampled_from([0, 6, 9]))
def test_formatting_and_parsing_round_trip(amount, decimals):
    assert parse_units(format_units(amount, decimals), decimals) == amount


def test_the_home_page_shows_the_live_chain(ledger, client):
    from tests.factories import wallet

    wallet("alice", gxt=2_500_000_000)
    page = client.get("/")
    assert page.status_code == 200
    assert b"Block height" in page.content
    assert b"2.5" in page.content
