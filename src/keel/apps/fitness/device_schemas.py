"""What each kind of machine records: the fields of a session's `metrics_summary` and of its
time-series points. `GET /meta/schemas` serves these to the admin page, and uploads are
validated against the very same definitions, so the two can never disagree."""

from dataclasses import asdict, dataclass
from typing import Any, Literal

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


def _type_ok(metric: Metric, value: Any) -> bool:
    # bool is an int in Python; a JSON true is never a metric.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if metric.type == "int" else isinstance(value, (int, float))


def _check(metric: Metric, value: Any, where: str) -> str | None:
    if not _type_ok(metric, value):
        return f"{where}{metric.key} must be {'an integer' if metric.type == 'int' else 'a number'}"
    if not metric.min <= value <= metric.max:
        return f"{where}{metric.key} must be between {metric.min:g} and {metric.max:g} {metric.unit}".rstrip()
    return None


def problem_with(device_type: str, summary: dict[str, Any], points: list[Any]) -> str | None:
    """Why a session's metrics break its device's schema, or None when they fit."""
    schema = DEVICE_SCHEMAS.get(device_type)
    if schema is None:
        return f"unknown device type {device_type!r}; known: {', '.join(DEVICE_TYPES)}"
    summary_metrics = {metric.key: metric for metric in schema["summary"]}
    if unknown := sorted(set(summary) - set(summary_metrics)):
        return f"metrics_summary has fields a {device_type} does not record: {', '.join(unknown)}"
    for key, value in summary.items():
        if problem := _check(summary_metrics[key], value, "metrics_summary."):
            return problem
    if len(points) > MAX_POINTS:
        return f"time_series_data has {len(points)} points; at most {MAX_POINTS}"
    return _points_problem(device_type, {metric.key: metric for metric in schema["points"]}, points)


_NUMBERS = {"int": {int}, "float": {int, float}}


def _points_problem(device_type: str, metrics: dict[str, Metric], points: list[Any]) -> str | None:
    """Column by column with built-ins (type sets, min, max): a 20,000-point series is checked
    in C loops; only a series already known to be wrong is walked point by point, to say where."""
    if set(map(type, points)) - {dict}:
        index = next(i for i, point in enumerate(points) if not isinstance(point, dict))
        return f"time_series_data[{index}] must be an object"
    if unknown := set().union(*points) - metrics.keys():
        index = next(i for i, point in enumerate(points) if point.keys() - metrics.keys())
        fields = ", ".join(sorted(points[index].keys() - metrics.keys()))
        return f"time_series_data[{index}] has fields a {device_type} does not record: {fields or ', '.join(sorted(unknown))}"
    for metric in metrics.values():
        values = [point.get(metric.key) for point in points]
        present = [value for value in values if value is not None]
        if metric.required and len(present) != len(values):
            return f"time_series_data[{values.index(None)}] lacks {metric.key}"
        # type() is exact, so a JSON true (bool) is never taken for a number.
        if present and (
            set(map(type, present)) - _NUMBERS[metric.type]
            or min(present) < metric.min
            or max(present) > metric.max
        ):
            for index, value in enumerate(values):
                if value is not None and (problem := _check(metric, value, f"time_series_data[{index}].")):
                    return problem
    return None
