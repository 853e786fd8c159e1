from tests.contract.live import contract_test

test_coach_honours_its_own_schema = contract_test("coach")
