from tests.contract.live import contract_tests

SLUG = "queue"
test_queue_on_sqlite, test_queue_on_postgresql, test_queue_on_mariadb = contract_tests(SLUG)
