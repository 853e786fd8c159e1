"""The seeds' own words as tests: each module here is a client written from one specification
in /work/shared/specs (specs/README.md maps documents to apps), sending the paths, field names,
bodies and headers the document shows, verbatim, and expecting the statuses and fields it
promises. A drift of keel from its document fails here; tests/contract checks keel against its
own OpenAPI instead, which cannot notice a drift from the document."""
