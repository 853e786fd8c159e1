from tests.contract.live import contract_tests

SLUG = "coach"
test_coach_on_sqlite, test_coach_on_postgresql, test_coach_on_mariadb = contract_tests(SLUG)
