"""Who writes reviews, plans and summaries: an OpenAI-compatible chat-completions API when one is
configured, and the built-in rule-based writer otherwise, or when the API still fails after
its retries. Both answer the same shape: a summary, highlights and suggestions."""

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, Field, ValidationError

from keel.settings import Settings

log = logging.getLogger("keel.coach.ai")

RULES = "rules"


class Writing(BaseModel):
    summary: str = Field(min_length=1, max_length=4000)
    highlights: list[str] = Field(default_factory=list, max_length=20)
    suggestions: list[str] = Field(default_factory=list, max_length=20)


@dataclass(frozen=True, slots=True)
class Written:
    content: dict[str, Any]
    provider: str
    latency_ms: int
    tokens_in: int | None = None
    tokens_out: int | None = None


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
    """From the configured API, falling back to the rules; from the rules with no API set."""
    if settings.coach_llm_base_url:
        try:
            return await ChatCompletions(settings).write(kind, prompt, style, language)
        except ProviderError as error:
            log.warning("AI provider failed; the rule-based writer answers", extra={"error": str(error)})
            written = rules(kind, prompt, style)
            return Written(
                {**written.content, "fallback_reason": str(error)}, f"{RULES}:fallback", written.latency_ms
            )
    return rules(kind, prompt, style)


# --- the rule-based writer -------------------------------------------------------------------

_OPENERS = {"gentle": "Well done for keeping track. ", "direct": "", "data": ""}
_LABELS = {
    "sleep": ("Sleep", "h"),
    "workout": ("Exercise", "min"),
    "meal": ("Calories", "kcal"),
    "work": ("Focus", "min"),
    "reading": ("Reading", "min"),
}
_ADVICE = {
    "sleep": "go to bed {gap} earlier",
    "workout": "fit in {gap} of movement, even a brisk walk",
    "meal": "adjust meals by {gap} to land near your target",
    "work": "block {gap} of focused work before checking messages",
    "reading": "read {gap} before bed instead of scrolling",
}


def _amount(dimension: str, value: float) -> str:
    unit = _LABELS[dimension][1]
    return f"{value:.1f} {unit}" if unit == "h" else f"{round(value)} {unit}"


def _compare(measures: dict[str, float], targets: dict[str, float]) -> tuple[list[str], list[str]]:
    """Highlights for dimensions on target, suggestions for the others, furthest behind first."""
    highlights, behind = [], []
    for dimension, value in measures.items():
        target = targets[dimension]
        label = _LABELS[dimension][0]
        on_target = abs(value - target) <= 0.1 * target if dimension == "meal" else value >= target
        if on_target:
            highlights.append(f"{label}: {_amount(dimension, value)} (target {_amount(dimension, target)})")
        elif target > 0:
            gap = abs(target - value)
            advice = _ADVICE[dimension].format(gap=_amount(dimension, gap))
            behind.append(
                (
                    gap / target,
                    f"{label}: {_amount(dimension, value)} of {_amount(dimension, target)}; {advice}.",
                )
            )
    return highlights, [text for _, text in sorted(behind, reverse=True)]


def rules(kind: str, prompt: dict[str, Any], style: str) -> Written:
    started = time.perf_counter()
    opener = _OPENERS.get(style, "")
    if kind == "reading_summary":
        books = prompt["books"]
        minutes = sum(b["minutes"] or 0 for b in books)
        pages = sum(b["pages"] or 0 for b in books)
        summary = f"{opener}From {prompt['from']} to {prompt['to']} you read {len(books)} time(s): {pages} pages in {minutes} minutes."
        highlights = [f"{b['title']}: {b['pages'] or 0} pages, {b['minutes'] or 0} min" for b in books]
        target_minutes = prompt["target_minutes_per_day"] * prompt["days"]
        suggestions = (
            [f"Reading: {minutes} of {target_minutes} min over the period; add a short session each evening."]
            if minutes < target_minutes
            else ["Keep your reading rhythm; note one idea from each session."]
        )
        content = Writing(summary=summary, highlights=highlights, suggestions=suggestions)
    else:
        highlights, suggestions = _compare(prompt["measures"], prompt["targets"])
        if kind == "review":
            summary = (
                f"{opener}{prompt['date']}: score {prompt['score']}/100, {len(highlights)} of 5 targets met."
            )
        elif kind == "tomorrow_plan":
            summary = f"{opener}Plan for {prompt['date']}, from your daily averages over the last {prompt['days']} days."
            suggestions = suggestions or ["Keep every habit at its current level."]
        else:
            summary = (
                f"{opener}{prompt['period'].capitalize()} from {prompt['start']}: average score "
                f"{prompt['score_average']}/100."
            )
        if not suggestions and kind == "review":
            suggestions = ["Every target met: keep tomorrow the same."]
        content = Writing(summary=summary, highlights=highlights, suggestions=suggestions)
    return Written(content.model_dump(), RULES, round((time.perf_counter() - started) * 1000))
