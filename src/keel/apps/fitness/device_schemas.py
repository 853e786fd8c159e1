"""What each kind of machine records: the fields of a session's `metrics_summary` and of its
time-series points. `GET /meta/schemas` serves these to the admin page, and uploads are
validated against the very same definitions, so the two can never disagree.

A batch of 100 sessions carries 60,000 points: they are checked by msgspec decoders compiled
from these definitions, straight from the uploaded bytes: each point becomes a small struct
(no dict, untracked by the garbage collector) that is dropped at once, and no Python code
loops over them."""

from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

MAX_POINTS = 20_000


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    type: Literal["int", "float"]
    unit: str
    label_zh: str
    label_en: str
    min: float
    max: float
    required: bool = False

    def describe(self) -> dict[str, Any]:
        return {**asdict(self), "label": {"zh": self.label_zh, "en": self.label_en}}


def _m(
    key: str,
    kind: Literal["int", "float"],
    unit: str,
    zh: str,
    en: str,
    lo: float,
    hi: float,
    *,
    required: bool = False,
) -> Metric:
    return Metric(key, kind, unit, zh, en, lo, hi, required)


# Seconds since the session's start: every point has it.
_T = _m("t", "float", "s", "時間", "Time", 0, 86_400, required=True)
_HEART = _m("heart_rate", "int", "bpm", "心率", "Heart rate", 30, 250)
_AVG_HEART = _m("avg_heart_rate", "int", "bpm", "平均心率", "Average heart rate", 30, 250)
_MAX_HEART = _m("max_heart_rate", "int", "bpm", "最大心率", "Maximum heart rate", 30, 250)
_WATTS = _m("watts", "float", "W", "瓦數", "Power", 0, 3000)
_AVG_WATTS = _m("avg_watts", "float", "W", "平均瓦數", "Average power", 0, 3000)
_MAX_WATTS = _m("max_watts", "float", "W", "最大瓦數", "Maximum power", 0, 3000)
_DISTANCE = _m("distance", "float", "m", "距離", "Distance", 0, 1_000_000)

DEVICE_SCHEMAS: dict[str, dict[str, tuple[Metric, ...]]] = {
    "rower": {
        "summary": (
            _AVG_WATTS,
            _MAX_WATTS,
            _m("avg_spm", "float", "spm", "平均槳頻", "Average stroke rate", 0, 80),
            _m("avg_pace_500m", "float", "s", "平均 500 公尺配速", "Average pace per 500 m", 0, 3600),
            _m("total_strokes", "int", "", "總划槳數", "Total strokes", 0, 1_000_000),
            _AVG_HEART,
            _MAX_HEART,
        ),
        "points": (
            _T,
            _WATTS,
            _m("spm", "float", "spm", "槳頻", "Stroke rate", 0, 80),
            _m("pace_500m", "float", "s", "500 公尺配速", "Pace per 500 m", 0, 3600),
            _DISTANCE,
            _HEART,
        ),
    },
    "bike": {
        "summary": (
            _AVG_WATTS,
            _MAX_WATTS,
            _m("avg_cadence", "float", "rpm", "平均踏頻", "Average cadence", 0, 250),
            _m("avg_speed_kmh", "float", "km/h", "平均速度", "Average speed", 0, 120),
            _m("max_resistance", "int", "level", "最大阻力", "Maximum resistance", 0, 100),
            _AVG_HEART,
            _MAX_HEART,
        ),
        "points": (
            _T,
            _WATTS,
            _m("cadence", "float", "rpm", "踏頻", "Cadence", 0, 250),
            _m("speed_kmh", "float", "km/h", "速度", "Speed", 0, 120),
            _m("resistance", "int", "level", "阻力", "Resistance", 0, 100),
            _DISTANCE,
            _HEART,
        ),
    },
    "treadmill": {
        "summary": (
            _m("avg_speed_kmh", "float", "km/h", "平均速度", "Average speed", 0, 30),
            _m("max_speed_kmh", "float", "km/h", "最大速度", "Maximum speed", 0, 30),
            _m("avg_incline_pct", "float", "%", "平均坡度", "Average incline", -10, 40),
            _m("total_steps", "int", "", "總步數", "Total steps", 0, 1_000_000),
            _AVG_HEART,
            _MAX_HEART,
        ),
        "points": (
            _T,
            _m("speed_kmh", "float", "km/h", "速度", "Speed", 0, 30),
            _m("incline_pct", "float", "%", "坡度", "Incline", -10, 40),
            _DISTANCE,
            _HEART,
        ),
    },
}

DEVICE_TYPES = tuple(DEVICE_SCHEMAS)


def describe() -> dict[str, Any]:
    return {
        device: {part: [metric.describe() for metric in metrics] for part, metrics in parts.items()}
        for device, parts in DEVICE_SCHEMAS.items()
    }


def _field(metric: Metric) -> tuple[str, Any] | tuple[str, Any, None]:
    # msgspec's `float` takes a JSON integer too, and neither `int` nor `float` takes true/false.
    number = Annotated[int if metric.type == "int" else float, Meta(ge=metric.min, le=metric.max)]
    return (metric.key, number) if metric.required else (metric.key, number | None, None)


def _decoder(name: str, metrics: tuple[Metric, ...], *, many: bool) -> msgspec.json.Decoder[Any]:
    """A compiled checker for one device's summary or points: types, ranges, required and
    unknown fields, checked in C while the JSON is read (gc=False: the points are thrown away)."""
    struct = msgspec.defstruct(
        name, [_field(metric) for metric in metrics], kw_only=True, forbid_unknown_fields=True, gc=False
    )
    return msgspec.json.Decoder(Annotated[list[struct], Meta(max_length=MAX_POINTS)] if many else struct)


_SUMMARY_CHECKS = {
    device: _decoder(f"{device}_summary", parts["summary"], many=False)
    for device, parts in DEVICE_SCHEMAS.items()
}
_SERIES_CHECKS = {
    device: _decoder(f"{device}_point", parts["points"], many=True)
    for device, parts in DEVICE_SCHEMAS.items()
}


def problem_with(device_type: str, summary: bytes, series: bytes) -> str | None:
    """Why a session's metrics (its `metrics_summary` and `time_series_data`, as the JSON text
    they arrived in) break its device's schema, or None when they fit."""
    if device_type not in DEVICE_SCHEMAS:
        return f"unknown device type {device_type!r}; known: {', '.join(DEVICE_TYPES)}"
    for field, checks, text in (
        ("metrics_summary", _SUMMARY_CHECKS, summary),
        ("time_series_data", _SERIES_CHECKS, series),
    ):
        try:
            checks[device_type].decode(text)
        except msgspec.ValidationError as error:
            return explain(error, field)
    return None


def explain(error: msgspec.ValidationError, field: str) -> str:
    """msgspec's `Expected `int` <= 250 - at `$[3].heart_rate`` as
    `time_series_data[3].heart_rate: expected `int` <= 250`."""
    message, _, path = str(error).partition(" - at `$")
    return f"{field}{path.rstrip('`')}: {message[:1].lower()}{message[1:]}"
