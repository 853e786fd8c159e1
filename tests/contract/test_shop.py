from tests.contract.live import contract_tests

SLUG = "shop"
test_shop_on_sqlite, test_shop_on_postgresql, test_shop_on_mariadb = contract_tests(SLUG)
