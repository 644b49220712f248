from tests.portal.conftest import market, member_client, traders  # noqa: F401 (fixtures)
