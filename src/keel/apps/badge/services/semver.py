"""Semantic versions as badges send them (`v1.2.3`, `1.2`, `1`), and the constraints module
dependencies are written in (`>=1.2.0,<2.0.0`, `^1.2`, `~1.2.0`, `==1.0.0`, `1.0.0`, `*`)."""

import re

_VERSION = re.compile(r"^v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?$")
_CLAUSE = re.compile(r"^(>=|<=|==|!=|>|<|\^|~|=)?\s*(\S+)$")


def parse(text: str) -> tuple[int, int, int]:
    """(major, minor, patch); missing parts count as 0. ValueError for anything else."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a semantic version (like 1.2.3 or v1.2.3)")
    major, minor, patch = (int(part or 0) for part in match.groups())
    return major, minor, patch


def is_version(text: str) -> bool:
    return _VERSION.match(text.strip()) is not None


def satisfies(version: str, constraint: str) -> bool:
    """Whether `version` meets every comma-separated clause of `constraint`."""
    current = parse(version)
    for clause in (part.strip() for part in constraint.split(",")):
        if clause in ("", "*"):
            continue
        match = _CLAUSE.match(clause)
        if match is None:
            raise ValueError(f"{constraint!r} is not a version constraint")
        operator, bound = match.group(1) or "==", parse(match.group(2))
        if not _holds(current, operator, bound):
            return False
    return True


def _holds(current: tuple[int, int, int], operator: str, bound: tuple[int, int, int]) -> bool:
    if operator == "^":  # same major (same minor below 1.0), not older
        upper = (bound[0] + 1, 0, 0) if bound[0] else (0, bound[1] + 1, 0)
        return bound <= current < upper
    if operator == "~":  # same major and minor, not older
        return bound <= current < (bound[0], bound[1] + 1, 0)
    return {
        ">=": current >= bound,
        "<=": current <= bound,
        ">": current > bound,
        "<": current < bound,
        "!=": current != bound,
        "==": current == bound,
        "=": current == bound,
    }[operator]


def valid_constraint(constraint: str) -> bool:
    try:
        satisfies("0.0.0", constraint)
    except ValueError:
        return False
    return True
