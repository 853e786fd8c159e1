from tests.contract.live import contract_tests

SLUG = "badge"
test_badge_on_sqlite, test_badge_on_postgresql, test_badge_on_mariadb = contract_tests(SLUG)
