from tests.contract.live import contract_test

test_shop_honours_its_own_schema = contract_test("shop")
