"""The input parser: a ``POST /schedule`` body -> a :class:`Batch` (ids, options, columns).

:class:`schemas.ScheduleRequest` is the contract, and pydantic is the reference parser: it
decides what is valid and words every error. Building its 1 + m + n model objects is,
though, the largest cost of a small request after the solve (about 0.2 ms of 0.65 ms for
100 tasks, with the checks and the conversion to arrays). :func:`read` therefore tries
:func:`read_fast` first: orjson, a handful of whole-column type and range checks, and
numpy arrays, with no model objects (about 0.1 ms). It accepts only bodies that are
plainly valid and answers ``None`` at the first doubt, and then pydantic parses the body
as before, so every error, its order and its wording are pydantic's. The fast path never
accepts a body that pydantic rejects, and yields exactly the batch pydantic's models give
(``tests/api/test_batch.py`` checks both on generated bodies). Complexity: O(n + m).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from app.solver import DEFAULT_ALGORITHM
from schemas import ID_MAX, LABEL_MAX, ScheduleRequest

__all__ = ["Batch", "from_request", "read", "read_fast"]


@dataclass(frozen=True, eq=False, slots=True)
class Batch:
    """A valid request as the pipeline uses it: the options, the ids in request order and
    one float64 array per numeric field (``t_max`` null is ``inf``). Its checks are the
    schema's alone: the batch's own problems (limits, duplicate ids, an unknown algorithm,
    overflowing combinations) are :func:`app.mapping.check_batch`'s."""

    label: str | None
    algorithm: str
    time_limit: float | None
    task_ids: list[str]
    machine_ids: list[str]
    deadline: np.ndarray
    theta: np.ndarray
    a_min: np.ndarray
    a_max: np.ndarray
    t_max: np.ndarray
    speed: np.ndarray
    available_at: np.ndarray

    @property
    def n(self) -> int:
        return len(self.task_ids)

    @property
    def m(self) -> int:
        return len(self.machine_ids)


def from_request(req: ScheduleRequest) -> Batch:
    """A batch from pydantic's validated models (the reference path). O(n + m)."""
    tasks, machines = req.tasks, req.machines
    return Batch(
        label=req.label,
        algorithm=req.algorithm,
        time_limit=req.time_limit,
        task_ids=[t.id for t in tasks],
        machine_ids=[mc.id for mc in machines],
        deadline=np.array([t.deadline for t in tasks], dtype=np.float64),
        theta=np.array([t.theta for t in tasks], dtype=np.float64),
        a_min=np.array([t.a_min for t in tasks], dtype=np.float64),
        a_max=np.array([t.a_max for t in tasks], dtype=np.float64),
        t_max=np.array([np.inf if t.t_max is None else t.t_max for t in tasks], dtype=np.float64),
        speed=np.array([mc.speed for mc in machines], dtype=np.float64),
        available_at=np.array([mc.available_at for mc in machines], dtype=np.float64),
    )


def read(body: bytes | str) -> Batch:
    """Parse and validate a body: :func:`read_fast`, else pydantic (whose
    :class:`pydantic.ValidationError` propagates)."""
    batch = read_fast(body)
    if batch is None:
        batch = from_request(ScheduleRequest.model_validate_json(body))
    return batch


# What the models allow (schemas.ScheduleRequest, Task, Machine): their field names, the
# types a JSON value may have for each (strict mode: a float field takes JSON integers and
# floats, never booleans or strings) and their defaults.
_TOP_KEYS = frozenset(ScheduleRequest.model_fields)
_TASK_KEYS = ("id", "deadline", "theta", "a_min", "a_max", "t_max")
_MACHINE_KEYS = ("id", "speed", "available_at")
_all_task_keys = itemgetter(*_TASK_KEYS)
_all_machine_keys = itemgetter(*_MACHINE_KEYS)
_INF = float("inf")
_NUMBER = frozenset({float, int})
_NULL = type(None)
_NUMBER_OR_NULL = frozenset({float, int, _NULL})
_STR = frozenset({str})
_STR_OR_NULL = frozenset({str, _NULL})
_ALGORITHM_MAX = next(c.max_length for c in ScheduleRequest.model_fields["algorithm"].metadata
                      if hasattr(c, "max_length"))


def _columns(items: list[dict], every_key: itemgetter, keys: tuple[str, ...],
             defaults: dict[str, Any]) -> list[tuple] | None:
    """One tuple per key across the dicts ``items`` (``None`` where a required key is
    missing), or ``None`` when some item has a key that is not in ``keys``."""
    try:
        cols = list(zip(*map(every_key, items)))  # noqa: B905 (equal lengths) every key present: C passes
    except KeyError:
        if not set().union(*items) <= frozenset(keys):
            return None
        return [tuple(it.get(k, defaults.get(k)) for it in items) for k in keys]
    # every item has every key: it has another one exactly when it has more than len(keys)
    return cols if sum(map(len, items)) == len(keys) * len(items) else None


#: pydantic's parser (jiter) refuses a number whose integer part has more than 4,300 digits
#: (Python's limit for int <-> str) and nesting deeper than about 200; orjson reads both
_DIGIT_BLOCK = 2_150  # every run of 4,301 digits covers an aligned block this long
_OPEN = 0x7B  # "{"; "[" (0x5B) differs from it by the bit 0x20 alone


def _beyond_jiter(body: bytes, containers: int) -> bool:
    """Whether ``body`` may hold what pydantic's parser refuses for its own limits although
    orjson reads it: a run of thousands of digits, or any object or array beyond the
    ``containers`` a valid batch has (the top level, its two lists, one object per task
    and machine), such as a deeply nested value that a duplicate key then hides. Brackets
    and long digit runs inside strings make it answer True too; pydantic then decides, as
    for every doubt. O(len(body)), about 5 us for 17 kB."""
    for i in range(0, len(body) - _DIGIT_BLOCK + 1, _DIGIT_BLOCK):
        if body[i:i + _DIGIT_BLOCK].isdigit():
            return True
    return int(np.count_nonzero((np.frombuffer(body, np.uint8) | 0x20) == _OPEN)) != containers


def _ids_ok(ids: tuple) -> bool:
    return set(map(type, ids)) <= _STR and min(map(len, ids)) >= 1 and max(map(len, ids)) <= ID_MAX


def read_fast(body: bytes | str) -> Batch | None:
    """The batch when ``body`` is plainly valid, else ``None`` (then pydantic decides).

    orjson rejects what JSON forbids (NaN and Infinity literals, numbers that overflow a
    double, lone surrogates, trailing commas) and keeps the last of duplicate keys, as
    pydantic's parser does; every value it returns is finite. Two limits of pydantic's
    parser that orjson does not share are checked on the text (:func:`_beyond_jiter`). The
    checks mirror the models field by field; ``None`` is also the answer for anything
    unusual, such as a missing required key or a wrong type. O(n + m) in a fixed number of
    C-level passes.
    """
    if type(body) is str:
        try:
            body = body.encode()
        except UnicodeEncodeError:  # a lone surrogate
            return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict or not doc.keys() <= _TOP_KEYS:
        return None
    tasks = doc.get("tasks")
    machines = doc.get("machines")
    label = doc.get("label")
    algorithm = doc.get("algorithm", DEFAULT_ALGORITHM)
    time_limit = doc.get("time_limit")
    if not (type(tasks) is list and type(machines) is list and machines
            and type(algorithm) is str and 1 <= len(algorithm) <= _ALGORITHM_MAX
            and type(label) in _STR_OR_NULL and (label is None or len(label) <= LABEL_MAX)
            and type(time_limit) in _NUMBER_OR_NULL and (time_limit is None or time_limit > 0)):
        return None
    if not (set(map(type, tasks)) <= {dict} and set(map(type, machines)) == {dict}):
        return None
    if _beyond_jiter(body, 3 + len(tasks) + len(machines)):
        return None
    mc = _columns(machines, _all_machine_keys, _MACHINE_KEYS, {"speed": 1.0, "available_at": 0.0})
    if not (mc is not None and _ids_ok(mc[0]) and set(map(type, mc[1] + mc[2])) <= _NUMBER):
        return None
    speed = np.array(mc[1], dtype=np.float64)
    available_at = np.array(mc[2], dtype=np.float64)
    if not (float(np.minimum.reduce(speed)) > 0.0 and float(np.minimum.reduce(available_at)) >= 0.0):
        return None
    if tasks:
        tc = _columns(tasks, _all_task_keys, _TASK_KEYS, {"a_min": 0.0, "a_max": 1.0})
        if tc is None:
            return None
        t_max_types = set(map(type, tc[5]))
        if not (_ids_ok(tc[0]) and set(map(type, tc[1])) <= _NUMBER and set(map(type, tc[2])) <= _NUMBER
                and set(map(type, tc[3])) <= _NUMBER and set(map(type, tc[4])) <= _NUMBER
                and t_max_types <= _NUMBER_OR_NULL):
            return None
        # rows: deadline, theta, a_min, a_max
        cols = np.array(tc[1:5], dtype=np.float64)
        lo = np.minimum.reduce(cols, axis=1).tolist()
        hi = np.maximum.reduce(cols[2:], axis=1).tolist()
        t_max = np.array(tc[5] if _NULL not in t_max_types else [_INF if x is None else x for x in tc[5]],
                         dtype=np.float64)
        if not (lo[0] >= 0.0 and lo[1] > 0.0 and lo[2] >= 0.0 and lo[3] > 0.0 and hi[0] <= 1.0
                and hi[1] <= 1.0 and float(np.minimum.reduce(t_max)) > 0.0
                and bool(np.greater(cols[3], cols[2]).all())):
            return None
        deadline, theta, a_min, a_max = cols
    else:
        tc = [()]
        deadline, theta, a_min, a_max, t_max = np.zeros((5, 0))
    return Batch(
        label=label, algorithm=algorithm, time_limit=None if time_limit is None else float(time_limit),
        task_ids=list(tc[0]), machine_ids=list(mc[0]),
        deadline=deadline, theta=theta, a_min=a_min, a_max=a_max, t_max=t_max,
        speed=speed, available_at=available_at,
    )
