"""The built-in rule-based writer: reviews, plans and summaries made from the user's own numbers
against their targets, furthest behind first, in the user's language (Simplified Chinese for
any `zh`, English otherwise). It answers when no LLM is configured and when the LLM fails: a
template, so its results are marked `fallback`."""

import time
from typing import Any

from pydantic import BaseModel, Field


class Writing(BaseModel):
    summary: str = Field(min_length=1, max_length=4000)
    highlights: list[str] = Field(default_factory=list, max_length=20)
    suggestions: list[str] = Field(default_factory=list, max_length=20)


def language_of(setting: str) -> str:
    """The writer's language for the user's `language` setting: zh-Hans for zh, zh-CN, zh-TW...
    (the one Chinese it writes), English for every other."""
    return "zh" if setting.split("-")[0].lower() == "zh" else "en"


# Every text the writer uses, per language; `{...}` are filled from the prompt.
_TEXTS: dict[str, dict[str, Any]] = {
    "en": {
        "openers": {"gentle": "Well done for keeping track. ", "direct": "", "data": ""},
        "labels": {
            "sleep": ("Sleep", "h"),
            "workout": ("Exercise", "min"),
            "meal": ("Calories", "kcal"),
            "work": ("Focus", "min"),
            "reading": ("Reading", "min"),
        },
        "advice": {
            "sleep": "go to bed {gap} earlier",
            "workout": "fit in {gap} of movement, even a brisk walk",
            "meal": "adjust meals by {gap} to land near your target",
            "work": "block {gap} of focused work before checking messages",
            "reading": "read {gap} before bed instead of scrolling",
        },
        "on_target": "{label}: {value} (target {target})",
        "behind": "{label}: {value} of {target}; {advice}.",
        "review": "{date}: score {score}/100, {met} of 5 targets met.",
        "review_all_met": "Every target met: keep tomorrow the same.",
        "plan": "Plan for {date}, from your daily averages over the last {days} days.",
        "plan_keep": "Keep every habit at its current level.",
        "periods": {"weekly": "Weekly", "monthly": "Monthly"},
        "stats": "{period} from {start}: average score {score}/100.",
        "reading": "From {since} to {until} you read {times} time(s): {pages} pages in {minutes} minutes.",
        "book": "{title}: {pages} pages, {minutes} min",
        "reading_more": "Reading: {minutes} of {target} min over the period; add a short session each evening.",
        "reading_keep": "Keep your reading rhythm; note one idea from each session.",
    },
    "zh": {
        "openers": {"gentle": "坚持记录，做得很好。", "direct": "", "data": ""},
        "labels": {
            "sleep": ("睡眠", "小时"),
            "workout": ("运动", "分钟"),
            "meal": ("热量", "千卡"),
            "work": ("专注", "分钟"),
            "reading": ("阅读", "分钟"),
        },
        "advice": {
            "sleep": "提前 {gap} 上床",
            "workout": "安排 {gap} 的活动，快走也可以",
            "meal": "饮食调整 {gap}，向目标靠近",
            "work": "先专注工作 {gap}，再看消息",
            "reading": "睡前阅读 {gap}，少刷手机",
        },
        "on_target": "{label}：{value}（目标 {target}）",
        "behind": "{label}：{value}，目标 {target}；建议{advice}。",
        "review": "{date}：得分 {score}/100，5 项目标达成 {met} 项。",
        "review_all_met": "所有目标都已达成：明天继续保持。",
        "plan": "{date} 的计划，依据你最近 {days} 天的日均数据。",
        "plan_keep": "各项习惯保持现在的水平即可。",
        "periods": {"weekly": "本周", "monthly": "本月"},
        "stats": "{period}（自 {start} 起）：平均得分 {score}/100。",
        "reading": "{since} 至 {until}，你阅读了 {times} 次：共 {pages} 页，{minutes} 分钟。",
        "book": "{title}：{pages} 页，{minutes} 分钟",
        "reading_more": "阅读：本期 {minutes} 分钟，目标 {target} 分钟；每晚加一小段阅读时间。",
        "reading_keep": "保持阅读节奏；每次读完记下一个想法。",
    },
}


def _amount(texts: dict[str, Any], dimension: str, value: float) -> str:
    unit = texts["labels"][dimension][1]
    return f"{value:.1f} {unit}" if dimension == "sleep" else f"{round(value)} {unit}"


def _compare(
    texts: dict[str, Any], measures: dict[str, float], targets: dict[str, float]
) -> tuple[list[str], list[str]]:
    """Highlights for dimensions on target, suggestions for the others, furthest behind first."""
    highlights, behind = [], []
    for dimension, value in measures.items():
        target = targets[dimension]
        label = texts["labels"][dimension][0]
        shown = {"label": label, "value": _amount(texts, dimension, value)}
        shown["target"] = _amount(texts, dimension, target)
        on_target = abs(value - target) <= 0.1 * target if dimension == "meal" else value >= target
        if on_target:
            highlights.append(texts["on_target"].format(**shown))
        elif target > 0:
            gap = abs(target - value)
            advice = texts["advice"][dimension].format(gap=_amount(texts, dimension, gap))
            behind.append((gap / target, texts["behind"].format(**shown, advice=advice)))
    return highlights, [text for _, text in sorted(behind, reverse=True)]


def _reading(texts: dict[str, Any], opener: str, prompt: dict[str, Any]) -> Writing:
    books = prompt["books"]
    minutes = sum(b["minutes"] or 0 for b in books)
    pages = sum(b["pages"] or 0 for b in books)
    summary = opener + texts["reading"].format(
        since=prompt["from"], until=prompt["to"], times=len(books), pages=pages, minutes=minutes
    )
    highlights = [
        texts["book"].format(title=b["title"], pages=b["pages"] or 0, minutes=b["minutes"] or 0)
        for b in books
    ]
    target = prompt["target_minutes_per_day"] * prompt["days"]
    suggestions = [
        texts["reading_more"].format(minutes=minutes, target=target)
        if minutes < target
        else texts["reading_keep"]
    ]
    return Writing(summary=summary, highlights=highlights, suggestions=suggestions)


def _measured(texts: dict[str, Any], opener: str, kind: str, prompt: dict[str, Any]) -> Writing:
    highlights, suggestions = _compare(texts, prompt["measures"], prompt["targets"])
    if kind == "review":
        summary = texts["review"].format(date=prompt["date"], score=prompt["score"], met=len(highlights))
        suggestions = suggestions or [texts["review_all_met"]]
    elif kind == "tomorrow_plan":
        summary = texts["plan"].format(date=prompt["date"], days=prompt["days"])
        suggestions = suggestions or [texts["plan_keep"]]
    else:
        period = texts["periods"][prompt["period"]]
        summary = texts["stats"].format(period=period, start=prompt["start"], score=prompt["score_average"])
    return Writing(summary=opener + summary, highlights=highlights, suggestions=suggestions)


def write(kind: str, prompt: dict[str, Any], style: str, language: str) -> tuple[dict[str, Any], float]:
    """The writing, and the seconds it took."""
    started = time.perf_counter()
    texts = _TEXTS[language_of(language)]
    opener = texts["openers"].get(style, "")
    writing = (
        _reading(texts, opener, prompt)
        if kind == "reading_summary"
        else _measured(texts, opener, kind, prompt)
    )
    return writing.model_dump(), time.perf_counter() - started
