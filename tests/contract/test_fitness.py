from tests.contract.live import contract_tests

SLUG = "fitness"
test_fitness_on_sqlite, test_fitness_on_postgresql, test_fitness_on_mariadb = contract_tests(SLUG)
