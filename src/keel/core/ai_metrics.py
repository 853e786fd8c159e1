"""Prometheus metrics of calls to AI providers (LLMs, and the templates that stand in for them),
for any app that has them: what the spec's alerts and cost reports read. Defined here, in the
core, so two apps' calls share one series per name and the labels tell them apart; each app
records its own calls with `record`.

`outcome` is `success` (the provider answered), `failure` (it did not, after its retries) or
`fallback` (a template answered instead): the AI failure rate is
`sum(rate(keel_ai_requests_total{outcome=~"failure|fallback"}[5m])) / sum(rate(keel_ai_requests_total[5m]))`
over the calls that were meant to reach a model."""

from functools import lru_cache
from typing import Any

from prometheus_client import Counter, Histogram

OUTCOMES = ("success", "failure", "fallback")

REQUESTS = Counter(
    "keel_ai_requests_total", "Calls to an AI provider, by outcome", ["app", "provider", "kind", "outcome"]
)
TOKENS = Counter(
    "keel_ai_tokens_total",
    "Tokens an AI provider reported, sent (input) and written (output)",
    ["app", "provider", "kind", "direction"],
)
# An LLM call with its retries takes seconds to a minute; a template, microseconds.
DURATION = Histogram(
    "keel_ai_request_duration_seconds",
    "Time an AI call took, retries included",
    ["app", "provider", "kind"],
    buckets=(0.001, 0.01, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60, 120),
)


@lru_cache(maxsize=1024)
def _series(app: str, provider: str, kind: str, outcome: str) -> tuple[Any, Any, Any, Any]:
    return (
        REQUESTS.labels(app, provider, kind, outcome),
        DURATION.labels(app, provider, kind),
        TOKENS.labels(app, provider, kind, "input"),
        TOKENS.labels(app, provider, kind, "output"),
    )


def record(
    app: str,
    provider: str,
    kind: str,
    outcome: str,
    seconds: float,
    tokens_in: int | None = None,
    tokens_out: int | None = None,
) -> None:
    """One call: counted under its outcome, timed, and its tokens added when the provider said."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
    counted, timed, sent, written = _series(app, provider, kind, outcome)
    counted.inc()
    timed.observe(seconds)
    if tokens_in:
        sent.inc(tokens_in)
    if tokens_out:
        written.inc(tokens_out)
