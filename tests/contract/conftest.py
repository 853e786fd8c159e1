# The live server every contract module (one per app) signs in to.
from tests.contract.live import live  # noqa: F401
