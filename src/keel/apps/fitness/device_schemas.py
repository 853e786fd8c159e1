"""What each kind of machine records: the fields of a session's `metrics_summary` and of its
time-series points. `GET /meta/schemas` serves these to the admin page, and uploads are
checked against the very same definitions, so the two can never disagree. A check never
refuses a session for its metrics (issue 12): what does not fit, an unknown field or a value
out of range, is stored as sent and reported in the item's `warnings`.

A batch of 100 sessions carries 60,000 points: they are checked by msgspec decoders compiled
from these definitions, straight from the uploaded bytes: each point becomes a small struct
(no dict, untracked by the garbage collector) that is dropped at once, and no Python code
loops over them."""

import functools
import hashlib
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

import msgspec
import orjson
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

# A machine the server does not know (one released after it): its session is stored and counted
# like any other, its fields kept as they came; only what every machine means alike is checked.
GENERIC = "generic"
GENERIC_SCHEMA: dict[str, tuple[Metric, ...]] = {"summary": (_AVG_HEART, _MAX_HEART), "points": (_T, _HEART)}

DEVICE_TYPES = tuple(DEVICE_SCHEMAS)


def describe() -> dict[str, Any]:
    return _DESCRIPTION


def _describe(parts: dict[str, tuple[Metric, ...]]) -> dict[str, list[dict[str, Any]]]:
    return {part: [metric.describe() for metric in metrics] for part, metrics in parts.items()}


def _versioned() -> dict[str, Any]:
    schemas = {device: _describe(parts) for device, parts in DEVICE_SCHEMAS.items()}
    generic = _describe(GENERIC_SCHEMA)
    # The hash of the definitions themselves: it changes exactly when they do, so a client may
    # cache the answer until the version it is told differs.
    digest = hashlib.sha256(orjson.dumps([schemas, generic], option=orjson.OPT_SORT_KEYS)).hexdigest()
    return {
        "version": digest[:16],
        "device_types": list(DEVICE_TYPES),
        "schemas": schemas,
        "generic": generic,
    }


_DESCRIPTION = _versioned()


def _field(metric: Metric, relaxed: frozenset[str]) -> tuple[str, Any] | tuple[str, Any, None]:
    """A metric as the checker reads it. Every known metric takes any JSON number (Dart writes
    120.0 for an int, msgspec's `float` takes 120 too): the value is stored as sent anyway.
    A relaxed metric (one already reported) takes anything, so the next problem can be found."""
    if metric.key in relaxed:
        return (metric.key, Any, None)
    number = Annotated[float, Meta(ge=metric.min, le=metric.max)]
    return (metric.key, number) if metric.required else (metric.key, number | None, None)


# Bounded: the relaxed keys come from uploads, and a client could send endless new names.
@functools.lru_cache(maxsize=256)
def _decoder(device: str, part: str, relaxed: frozenset[str]) -> msgspec.json.Decoder[Any]:
    """A compiled checker for one device's summary or points: types, ranges, required and
    unknown fields, checked in C while the JSON is read (gc=False: the points are thrown away).
    The generic schema lets unknown fields pass: all of an unknown machine's fields are."""
    parts = DEVICE_SCHEMAS.get(device, GENERIC_SCHEMA)
    fields = [_field(metric, relaxed) for metric in parts[part]]
    # Unknown keys are any text: each gets a field name of its own, renamed to the key.
    unknown = sorted(relaxed - {metric.key for metric in parts[part]})
    names = {f"unknown_{i}": key for i, key in enumerate(unknown)}
    struct = msgspec.defstruct(
        f"{device}_{part}",
        fields + [(name, Any, None) for name in names],
        kw_only=True,
        forbid_unknown_fields=device in DEVICE_SCHEMAS,
        gc=False,
        rename=names,
    )
    many = part == "points"
    return msgspec.json.Decoder(Annotated[list[struct], Meta(max_length=MAX_POINTS)] if many else struct)


for _device in (*DEVICE_TYPES, GENERIC):
    for _part in ("summary", "points"):
        _decoder(_device, _part, frozenset())  # compiled at import, not on the first upload

# A session with more problems than this is reported as having "more"; each costs a decode.
MAX_WARNINGS = 8
_UNKNOWN, _MISSING = "Object contains unknown field `", "Object missing required field `"


class Unusable(Exception):
    """Metrics that cannot be stored as they are: not an object (a summary), not a list of
    objects or more than MAX_POINTS points (a time series)."""


def warnings_for(device_type: str, summary: bytes, series: bytes) -> list[str]:
    """What the server does not understand in a session's metrics (its `metrics_summary` and
    `time_series_data`, as the JSON text they arrived in): nothing of it is fatal, all of it is
    stored as sent. Raises Unusable when the shape itself is broken.

    A session that fits its schema costs one decode of each field, as before; each problem
    found costs one more, with the metric it names relaxed (msgspec stops at the first)."""
    warnings: list[str] = []
    device = device_type if device_type in DEVICE_SCHEMAS else GENERIC
    if device is GENERIC:
        warnings.append(
            f"device type {device_type!r} has no schema (known: {', '.join(DEVICE_TYPES)}); "
            "its metrics are stored as sent under the generic one"
        )
    for field, part, text in (
        ("metrics_summary", "summary", summary),
        ("time_series_data", "points", series),
    ):
        relaxed: frozenset[str] = frozenset()
        while True:
            try:
                _decoder(device, part, relaxed).decode(text)
                break
            except msgspec.ValidationError as error:
                key, warning = _problem(error, field)
                # The budget is the session's, both fields together: the decodes are bounded
                # however many keys a hostile series invents.
                if len(warnings) >= MAX_WARNINGS:
                    warnings.append(f"{field}: more values the server does not understand, stored as sent")
                    break
                warnings.append(warning)
                relaxed |= {key}
    return warnings


def _problem(error: msgspec.ValidationError, field: str) -> tuple[str, str]:
    """The metric an error names, and a warning a user can read; Unusable when it names none."""
    message, _, path = str(error).partition(" - at `$")
    path = path.rstrip("`")
    if message.startswith(_UNKNOWN):
        key = message.removeprefix(_UNKNOWN).rstrip("`")
        return key, f"{field}{path}.{key}: not in the schema, stored as sent"
    if message.startswith(_MISSING):
        key = message.removeprefix(_MISSING).rstrip("`")
        return key, f"{field}{path}.{key}: missing"
    key = path.rpartition(".")[2]
    if not key or key.endswith("]"):
        raise Unusable(explain(error, field))
    return key, f"{explain(error, field)}; {key} is stored as sent but left out of any aggregate"


def explain(error: msgspec.ValidationError, field: str) -> str:
    """msgspec's `Expected `float` <= 250 - at `$[3].heart_rate`` as
    `time_series_data[3].heart_rate: expected `float` <= 250`."""
    message, _, path = str(error).partition(" - at `$")
    return f"{field}{path.rstrip('`')}: {message[:1].lower()}{message[1:]}"
