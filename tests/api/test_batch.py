"""The input parser's fast path against pydantic, the reference (app/batch.py).

``read_fast`` may decline any body (then pydantic parses it), but it must never accept a
body that pydantic rejects, and when it accepts one it must give exactly the batch that
pydantic's models give: same ids, options and numbers, bit for bit (the sign of zero too).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.batch import Batch, from_request, read, read_fast
from schemas import ScheduleRequest, example

from .conftest import random_batch, spec_request

ARRAYS = ("deadline", "theta", "a_min", "a_max", "t_max", "speed", "available_at")


def assert_same(got: Batch, want: Batch) -> None:
    assert (got.label, got.algorithm, got.time_limit) == (want.label, want.algorithm, want.time_limit)
    assert type(got.time_limit) is type(want.time_limit)
    assert got.task_ids == want.task_ids and got.machine_ids == want.machine_ids
    for name in ARRAYS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype == np.float64 and a.shape == b.shape, name
        assert a.tobytes() == b.tobytes(), name  # bitwise: -0.0 and 0.0 differ


def reference(body: bytes | str) -> Batch | None:
    try:
        return from_request(ScheduleRequest.model_validate_json(body))
    except ValidationError:
        return None


def check(body: bytes | str) -> tuple[Batch | None, Batch | None]:
    """The fast path agrees with pydantic on ``body``; returns (fast, reference)."""
    want = reference(body)
    got = read_fast(body)
    if want is None:
        assert got is None, body
        with pytest.raises(ValidationError):
            read(body)
    else:
        if got is not None:
            assert_same(got, want)
        assert_same(read(body), want)
    return got, want


@pytest.mark.parametrize("n,m,seed", [(0, 1, 0), (1, 1, 1), (100, 10, 2), (1000, 50, 3)])
def test_typical_batches_take_the_fast_path(n: int, m: int, seed: int) -> None:
    got, want = check(json.dumps(random_batch(n, m, seed)).encode())
    assert got is not None and want is not None


def test_contract_example_and_defaults_take_the_fast_path() -> None:
    for doc in (example(ScheduleRequest), spec_request(),
                {"machines": [{"id": "m"}], "tasks": [{"id": "t", "deadline": 1, "theta": 2}]}):
        got, want = check(json.dumps(doc))
        assert got is not None and want is not None


# Raw bodies the JSON parsers might read differently.
RAW = [
    b'{"machines":[{"id":"m"}],"tasks":[{"id":"t","deadline":1,"deadline":2,"theta":1}]}',  # duplicate key
    b'{"machines":[{"id":"m"}],"tasks":[],"tasks":[{"id":"t","deadline":1,"theta":1}]}',
    b'{"machines":[{"id":"m","speed":1e400}],"tasks":[]}',
    b'{"machines":[{"id":"m","speed":NaN}],"tasks":[]}',
    b'{"machines":[{"id":"m","speed":Infinity}],"tasks":[]}',
    b'{"machines":[{"id":"m","speed":-0.0}],"tasks":[]}',
    b'{"machines":[{"id":"m","available_at":-0.0}],"tasks":[]}',
    b'{"machines":[{"id":"m","available_at":-0}],"tasks":[]}',
    b'{"machines":[{"id":"m"}],"tasks":[{"id":"t","deadline":-0.0,"theta":5e-324,"a_min":-0.0}]}',
    b'{"machines":[{"id":"m","speed":18446744073709551615}],"tasks":[]}',
    b'{"machines":[{"id":"m","speed":18446744073709551616}],"tasks":[]}',
    b'{"machines":[{"id":"m","speed":9007199254740993}],"tasks":[]}',
    b'{"machines":[{"id":"m","speed":1.0e-400}],"tasks":[]}',
    b'{"machines":[{"id":"m","speed":true}],"tasks":[]}',
    b'{"machines":[{"id":"m","speed":"1"}],"tasks":[]}',
    b'{"machines":[{"id":"\\ud800"}],"tasks":[]}',
    b'{"machines":[{"id":"\\u0000"}],"tasks":[]}',
    b'{"machines":[{"id":"\xff"}],"tasks":[]}',
    b'\xef\xbb\xbf{"machines":[{"id":"m"}],"tasks":[]}',
    b'{"machines":[{"id":"m"}],"tasks":[]} ',
    b'{"machines":[{"id":"m"}],"tasks":[]} x',
    b'{"machines":[{"id":"m"},],"tasks":[]}',
    b'{"machines":[{"id":"m"}],"tasks":[null]}',
    b'{"machines":[{"id":"m"}],"tasks":{}}',
    b'{"machines":[],"tasks":[]}',
    b'{"machines":[{"id":"m"}]}',
    b'{"machines":[{"id":"m"}],"tasks":[],"label":null,"time_limit":null,"algorithm":"x"}',
    b'{"machines":[{"id":"m"}],"tasks":[],"time_limit":0}',
    b'{"machines":[{"id":"m"}],"tasks":[],"time_limit":1}',
    b'{"machines":[{"id":"m"}],"tasks":[],"algorithm":""}',
    b'{"machines":[{"id":"m"}],"tasks":[],"extra":1}',
    b'{"machines":[{"id":"m","extra":1}],"tasks":[]}',
    b'{"machines":[{"id":"m"}],"tasks":[{"id":"t","deadline":1,"theta":1,"a_min":0.5,"a_max":0.5}]}',
    b'{"machines":[{"id":"m"}],"tasks":[{"id":"t","deadline":1,"theta":1,"a_min":null}]}',
    b'{"machines":[{"id":"m"}],"tasks":[{"id":"t","deadline":1,"theta":1,"t_max":0}]}',
    b'{"machines":[{"id":"m"}],"tasks":[{"id":"t","deadline":1,"theta":1,"t_max":null}]}',
    b'[{"machines":[{"id":"m"}],"tasks":[]}]',
    b'',
    b'null',
    "{\"machines\":[{\"id\":\"m\u00e9\"}],\"tasks\":[]}",  # a str body, as the CLI passes
    '{"machines":[{"id":"m\ud800"}],"tasks":[]}',  # a str body with a lone surrogate
    # pydantic's parser refuses integer parts over 4,300 digits and nesting past ~200 levels;
    # orjson reads both (found by an adversarial review): the fast path must decline them
    b'{"machines":[{"id":"m","speed":1' + b"0" * 4300 + b'e-4300}],"tasks":[]}',
    b'{"machines":[{"id":"m","speed":1' + b"0" * 4299 + b'e-4299}],"tasks":[]}',
    '{"machines":[{"id":"m"}],"tasks":[{"id":"t","deadline":1' + "0" * 4400 + '.5e-4400,"theta":1}]}',
    b'{"machines":[{"id":"m","speed":1' + b"1" * 4400 + b'.0e-4400,"speed":2}],"tasks":[]}',
    b'{"machines":[{"id":"m"}],"tasks":[],"label":' + b"[" * 201 + b"]" * 201 + b',"label":null}',
    b'{"machines":[{"id":' + b"[" * 250 + b"]" * 250 + b',"id":"m"}],"tasks":[]}',
    b'{"machines":[{"id":' + b"{}" + b',"id":"m"}],"tasks":[]}',
    b'{"machines":[{"id":"m[1]{2}"}],"tasks":[{"id":"' + b"7" * 5000 + b'","deadline":1,"theta":1}]}',
]


@pytest.mark.parametrize("body", RAW, ids=range(len(RAW)))
def test_raw_bodies_agree_with_pydantic(body: bytes | str) -> None:
    check(body)


# --------------------------------------------------------------------------- generated

NASTY = st.one_of(
    st.none(), st.booleans(), st.sampled_from(["", "x", "1.5", "x" * 256, "x" * 257, "é" * 256]),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 1e-300, 5e-324, 1e308, -1e308, 2.0, -1.0, 1.0000000000000002]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
TASK_KEYS = ["id", "deadline", "theta", "a_min", "a_max", "t_max", "extra"]
MACHINE_KEYS = ["id", "speed", "available_at", "extra"]
TOP_KEYS = ["label", "algorithm", "time_limit", "machines", "tasks", "extra"]
_DELETE = object()


def _list(x: Any) -> list:
    return x if isinstance(x, list) else []


@st.composite
def documents(draw: st.DrawFn) -> Any:
    n = draw(st.integers(0, 4))
    m = draw(st.integers(1, 3))
    doc: Any = random_batch(n, m, draw(st.integers(0, 1000)))
    for j, t in enumerate(doc["tasks"]):  # optional fields left out now and then
        for k in ("a_min", "a_max", "t_max"):
            if draw(st.booleans()) and draw(st.booleans()):
                del t[k]
        if j == 0 and draw(st.booleans()):
            t.pop("a_max", None), t.pop("a_min", None)
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "task", "machine"]))
        value = draw(st.one_of(NASTY, st.just(_DELETE)))
        tasks = [t for t in _list(doc.get("tasks")) if isinstance(t, dict)]
        machines = [mc for mc in _list(doc.get("machines")) if isinstance(mc, dict)]
        if where == "task" and tasks:
            target, key = draw(st.sampled_from(tasks)), draw(st.sampled_from(TASK_KEYS))
        elif where == "machine" and machines:
            target, key = draw(st.sampled_from(machines)), draw(st.sampled_from(MACHINE_KEYS))
        else:
            target, key = doc, draw(st.sampled_from(TOP_KEYS))
        if value is _DELETE:
            target.pop(key, None)
        else:
            target[key] = value
    if draw(st.integers(0, 19)) == 0:  # the whole document replaced
        doc = draw(NASTY)
    return doc


@given(documents())
def test_generated_documents_agree_with_pydantic(doc: Any) -> None:
    check(json.dumps(doc))


@given(st.lists(st.tuples(st.sampled_from(["deadline", "theta", "a_min", "a_max", "t_max"]),
                          st.floats(allow_nan=False, allow_infinity=False) | st.integers(-5, 5)),
                max_size=4))
def test_generated_numbers_agree_with_pydantic(changes: list[tuple[str, float]]) -> None:
    doc = random_batch(3, 2, 7)
    for k, (key, value) in enumerate(changes):
        doc["tasks"][k % 3][key] = value
    check(json.dumps(doc))
