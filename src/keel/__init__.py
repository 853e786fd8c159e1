"""keel: one shared core and five product backends."""
