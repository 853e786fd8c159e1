"""Who writes reviews, plans and summaries: an OpenAI-compatible chat-completions API when one is
configured, and the built-in rule-based writer (services/rules.py) otherwise, or when the API
still fails after its retries. Both answer the same shape: a summary, highlights and
suggestions. Every call is counted, timed and its tokens added in the core's AI metrics."""

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from keel.apps.coach.services import rules
from keel.apps.coach.services.rules import Writing
from keel.core import ai_metrics
from keel.settings import Settings

log = logging.getLogger("keel.coach.ai")

RULES = "rules"
APP = "coach"


@dataclass(frozen=True, slots=True)
class Written:
    content: dict[str, Any]
    provider: str
    latency_ms: int
    tokens_in: int | None = None
    tokens_out: int | None = None
    # Written by the rules, not by a model: kept only where no model's result is stored.
    fallback: bool = False


class ProviderError(Exception):
    """The API could not give a usable answer."""


_TASKS = {
    "review": "Write tonight's review of the user's day against their targets.",
    "tomorrow_plan": "Write a plan for the given day from the user's last seven days and targets.",
    "reading_summary": "Summarise what the user read and suggest what to read next.",
    "stats_summary": "Summarise the user's period statistics and the change against the previous period.",
}
_STYLES = {
    "gentle": "Be warm and encouraging.",
    "direct": "Be brief and direct; no praise for its own sake.",
    "data": "Lead with numbers; be precise and neutral.",
}


def _messages(kind: str, prompt: dict[str, Any], style: str, language: str) -> list[dict[str, str]]:
    system = (
        f"You are a daily-habits coach. {_TASKS[kind]} {_STYLES.get(style, '')} Answer in the language "
        f"{language!r} as a JSON object with keys summary (string), highlights (list of strings) and "
        "suggestions (list of strings), and nothing else."
    )
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": json.dumps(prompt, ensure_ascii=False, default=str)},
    ]


class ChatCompletions:
    """A client for `POST {base_url}/chat/completions`, retrying timeouts, 429s, 5xx and
    malformed answers with exponential backoff."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        assert settings.coach_llm_base_url
        self.url = settings.coach_llm_base_url.rstrip("/") + "/chat/completions"
        self.model = settings.coach_llm_model
        self.attempts = settings.coach_llm_attempts
        self.timeout = settings.coach_llm_timeout_seconds
        self.headers = (
            {"Authorization": f"Bearer {settings.coach_llm_api_key}"} if settings.coach_llm_api_key else {}
        )
        self.transport = transport

    async def write(self, kind: str, prompt: dict[str, Any], style: str, language: str) -> Written:
        body = {
            "model": self.model,
            "messages": _messages(kind, prompt, style, language),
            "temperature": 0.4,
            "response_format": {"type": "json_object"},
        }
        started = time.perf_counter()
        problem = "no attempt made"
        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
            for attempt in range(self.attempts):
                if attempt:
                    await asyncio.sleep(min(8.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.0))
                try:
                    response = await client.post(self.url, json=body, headers=self.headers)
                except httpx.HTTPError as error:
                    problem = f"{type(error).__name__}: {error}"
                    continue
                if response.status_code == 429 or response.status_code >= 500:
                    problem = f"HTTP {response.status_code}"
                    continue
                if response.status_code >= 400:  # the request itself is wrong (a bad key): no retry helps
                    raise ProviderError(f"HTTP {response.status_code}: {response.text[:200]}")
                try:
                    return self._read(response, started)
                except (ValueError, KeyError, IndexError, TypeError, ValidationError) as error:
                    problem = f"malformed answer: {str(error)[:200]}"
        raise ProviderError(f"gave up after {self.attempts} attempts; last: {problem}")

    def _read(self, response: httpx.Response, started: float) -> Written:
        payload = response.json()
        content = payload["choices"][0]["message"]["content"]
        writing = Writing.model_validate(json.loads(content))
        usage = payload.get("usage") or {}
        return Written(
            content=writing.model_dump(),
            provider=f"llm:{payload.get('model') or self.model}",
            latency_ms=round((time.perf_counter() - started) * 1000),
            tokens_in=usage.get("prompt_tokens"),
            tokens_out=usage.get("completion_tokens"),
        )


async def write(settings: Settings, kind: str, prompt: dict[str, Any], style: str, language: str) -> Written:
    """From the configured API, falling back to the rules; from the rules with no API set. A
    fallback's content says so (`fallback`, `fallback_reason`)."""
    if not settings.coach_llm_base_url:
        return _rules(kind, prompt, style, language, RULES, "no LLM is configured")
    client = ChatCompletions(settings)
    # The model configured, not the one an answer names, so a failure and a success share labels.
    label = f"llm:{client.model}"
    started = time.perf_counter()
    try:
        written = await client.write(kind, prompt, style, language)
    except ProviderError as error:
        ai_metrics.record(APP, label, kind, "failure", time.perf_counter() - started)
        log.warning("AI provider failed; the rule-based writer answers", extra={"error": str(error)})
        return _rules(kind, prompt, style, language, f"{RULES}:fallback", str(error))
    ai_metrics.record(
        APP,
        label,
        kind,
        "success",
        written.latency_ms / 1000,
        written.tokens_in,
        written.tokens_out,
    )
    return written


def _rules(
    kind: str, prompt: dict[str, Any], style: str, language: str, provider: str, reason: str
) -> Written:
    content, seconds = rules.write(kind, prompt, style, language)
    ai_metrics.record(APP, RULES, kind, "fallback", seconds)
    content = {**content, "fallback": True, "fallback_reason": reason}
    return Written(content, provider, round(seconds * 1000), fallback=True)
