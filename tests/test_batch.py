"""The input parser's fast path against pydantic, the reference (app/batch.py).

``read_fast`` may decline any body (then pydantic parses it), but it must never accept a
body that pydantic rejects, and when it accepts one it must give exactly the batch that
pydantic's models give: same ids, options and numbers, bit for bit (the sign of zero too).
The key lists the generated bodies use are the models' own fields, and the same checks run
on a request model extended by a field the reader has never seen.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.batch import _MISSING, READER, Batch, Reader, read_fast
from schemas import Machine, ScheduleRequest, Task, example

from .api.conftest import random_batch, spec_request


def assert_same(got: Batch, want: Batch) -> None:
    assert got.options == want.options
    assert [type(v) for v in got.options.values()] == [type(v) for v in want.options.values()]
    for kind in ("tasks", "machines"):
        cols, ref = getattr(got, kind), getattr(want, kind)
        assert cols.keys() == ref.keys(), kind
        for name, b in ref.items():
            a = cols[name]
            if isinstance(b, list):
                assert type(a) is list and a == b, name
            else:
                assert a.dtype == b.dtype == np.float64 and a.shape == b.shape, name
                assert a.tobytes() == b.tobytes(), name  # bitwise: -0.0 and 0.0 differ


def reference(body: bytes | str, reader: Reader = READER) -> Batch | None:
    try:
        return reader.from_request(reader.model.model_validate_json(body))
    except ValidationError:
        return None


def check(body: bytes | str, reader: Reader = READER) -> tuple[Batch | None, Batch | None]:
    """The fast path agrees with pydantic on ``body``; returns (fast, reference)."""
    want = reference(body, reader)
    got = reader.read_fast(body)
    if want is None:
        assert got is None, body
        with pytest.raises(ValidationError):
            reader.read(body)
    else:
        if got is not None:
            assert_same(got, want)
        assert_same(reader.read(body), want)
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
def keys(model: type[BaseModel]) -> list[str]:
    """The model's fields and one key it does not have."""
    return [*model.model_fields, "extra"]


def optional(model: type[BaseModel]) -> list[str]:
    return [k for k, f in model.model_fields.items() if not f.is_required()]


def numbers(model: type[BaseModel]) -> list[str]:
    return [k for k, f in model.model_fields.items() if f.annotation in (float, float | None)]


_DELETE = object()


def _list(x: Any) -> list:
    return x if isinstance(x, list) else []


def item(request: type[BaseModel], name: str) -> type[BaseModel]:
    """The model of the items of the list field ``name`` (``tasks``: Task)."""
    return request.model_fields[name].annotation.__args__[0]


@st.composite
def documents(draw: st.DrawFn, request: type[BaseModel] = ScheduleRequest, extend: Any = None) -> Any:
    task, machine = item(request, "tasks"), item(request, "machines")
    n = draw(st.integers(0, 4))
    m = draw(st.integers(1, 3))
    doc: Any = random_batch(n, m, draw(st.integers(0, 1000)))
    if extend is not None:
        extend(draw, doc)
    for j, t in enumerate(doc["tasks"]):  # optional fields left out now and then
        for k in optional(task):
            if draw(st.booleans()) and draw(st.booleans()):
                t.pop(k, None)
        if j == 0 and draw(st.booleans()):
            for k in optional(task):
                t.pop(k, None)
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "task", "machine"]))
        value = draw(st.one_of(NASTY, st.just(_DELETE)))
        tasks = [t for t in _list(doc.get("tasks")) if isinstance(t, dict)]
        machines = [mc for mc in _list(doc.get("machines")) if isinstance(mc, dict)]
        if where == "task" and tasks:
            target, key = draw(st.sampled_from(tasks)), draw(st.sampled_from(keys(task)))
        elif where == "machine" and machines:
            target, key = draw(st.sampled_from(machines)), draw(st.sampled_from(keys(machine)))
        else:
            target, key = doc, draw(st.sampled_from(keys(request)))
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


@given(st.lists(st.tuples(st.sampled_from(numbers(Task)),
                          st.floats(allow_nan=False, allow_infinity=False) | st.integers(-5, 5)),
                max_size=4))
def test_generated_numbers_agree_with_pydantic(changes: list[tuple[str, float]]) -> None:
    doc = random_batch(3, 2, 7)
    for k, (key, value) in enumerate(changes):
        doc["tasks"][k % 3][key] = value
    check(json.dumps(doc))


# --------------------------------------------------------------------------- derived from the schema


def _schema_view(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """Each field's default and bounds as pydantic's JSON schema states them (an independent
    rendering of the same models), in the reader's terms."""
    out = {}
    for name, prop in model.model_json_schema()["properties"].items():
        if "$ref" in prop or prop.get("type") == "array":
            continue
        alts = prop.get("anyOf", [prop])
        main = next(a for a in alts if a.get("type") != "null")
        view = {"kind": {"number": "number", "string": "text"}[main["type"]],
                "nullable": len(alts) > 1, "default": prop.get("default", "required"),
                "low": main.get("exclusiveMinimum", main.get("minimum")),
                "low_inclusive": "minimum" in main,
                "high": main.get("exclusiveMaximum", main.get("maximum")),
                "high_inclusive": "maximum" in main,
                "min_len": main.get("minLength"), "max_len": main.get("maxLength")}
        out[name] = view
    return out


def _reader_view(columns: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for c in columns:
        out[c.name] = {"kind": c.kind, "nullable": c.nullable,
                       "default": "required" if c.default is _MISSING else c.default,
                       "low": c.low, "low_inclusive": c.low is not None and c.low_inclusive,
                       "high": c.high, "high_inclusive": c.high is not None and c.high_inclusive,
                       "min_len": c.min_len, "max_len": c.max_len}
    return out


def test_field_table_is_what_the_schema_says() -> None:
    """Every field of the request, its tasks and machines, with the default and bounds the
    JSON schema gives, and nothing else; the cross-field rule from the schema's validator."""
    tables = {name: table for name, table, _, _ in READER.lists}
    assert set(tables) == {"tasks", "machines"} and READER.fast
    assert _reader_view(READER.options) == _schema_view(ScheduleRequest)
    assert _reader_view(tables["tasks"].columns) == _schema_view(Task)
    assert _reader_view(tables["machines"].columns) == _schema_view(Machine)
    assert tables["tasks"].above == (("a_max", "a_min"),) and tables["machines"].above == ()
    assert {name: least for name, _, least, _ in READER.lists} == {
        name: ScheduleRequest.model_json_schema()["properties"][name].get("minItems", 0) for name in tables}


# A request model extended the way a new feature would extend it: optional fields of every
# kind the reader knows, on the tasks, the machines and the request. The reader is not
# edited; it must take them from the models.
class PriorityTask(Task):
    priority: float = Field(1.0, gt=0, le=10)
    floor: float | None = Field(None, ge=0, lt=1)
    note: str | None = Field(None, min_length=2, max_length=8)


class PoweredMachine(Machine):
    watts: float = Field(10.0, ge=0)


class ExtendedRequest(ScheduleRequest):
    margin: float = Field(0.5, ge=0, le=1)
    machines: list[PoweredMachine] = Field(min_length=1)
    tasks: list[PriorityTask]


EXTENDED = Reader(ExtendedRequest)
_EXTENSION_VALUES = st.one_of(NASTY, st.sampled_from([0.0, 0.5, 1.0, 10.0, 10.5, 2, "ab", "abcdefghi"]))


def _extend(draw: st.DrawFn, doc: dict[str, Any]) -> None:
    for t in doc["tasks"]:
        t.update(priority=draw(st.sampled_from([0.5, 1, 10])), floor=draw(st.sampled_from([None, 0, 0.25])),
                 note=draw(st.sampled_from([None, "ok", "fine"])))
    for mc in doc["machines"]:
        mc["watts"] = draw(st.sampled_from([0, 5.5, 300]))
    doc["margin"] = draw(st.sampled_from([0, 0.5, 1]))
    for _ in range(draw(st.integers(0, 2))):
        items = doc["tasks"] or doc["machines"]
        key = draw(st.sampled_from(["priority", "floor", "note", "watts", "margin"]))
        target = doc if key == "margin" else draw(st.sampled_from(items))
        target[key] = draw(_EXTENSION_VALUES)


def test_extended_fields_are_read_without_editing_the_reader() -> None:
    assert EXTENDED.fast
    tables = {name: table for name, table, _, _ in EXTENDED.lists}
    assert _reader_view(tables["tasks"].columns) == _schema_view(PriorityTask)
    assert _reader_view(tables["machines"].columns) == _schema_view(PoweredMachine)
    assert _reader_view(EXTENDED.options) == _schema_view(ExtendedRequest)
    doc = random_batch(50, 4, 5)
    doc["tasks"][0].update(priority=2.5, floor=0.1, note="hi")
    got, want = check(json.dumps(doc), EXTENDED)
    assert got is not None and want is not None
    assert got.tasks["priority"][:2].tolist() == [2.5, 1.0] and got.tasks["floor"][0] == 0.1
    assert got.tasks["note"][:2] == ["hi", None] and got.machines["watts"].tolist() == [10.0] * 4
    assert got.options["margin"] == 0.5
    doc["tasks"][1]["priority"] = 11  # over its bound: pydantic's error, from pydantic
    got, want = check(json.dumps(doc), EXTENDED)
    assert got is None and want is None


@given(documents(ExtendedRequest, _extend))
def test_generated_extended_documents_agree_with_pydantic(doc: Any) -> None:
    check(json.dumps(doc), EXTENDED)


class _Tagged(Task):
    tag: str = Field("abc", pattern="^[a-z]+$")  # a constraint the reader does not know


class _Counted(Task):
    count: int = 3  # a type the reader does not know


class _Validated(Task):
    @model_validator(mode="after")
    def _short_deadline(self) -> _Validated:  # a validator the reader cannot see into
        if self.deadline > 1e9:
            raise ValueError("deadline too far")
        return self


class _Stripped(Task):
    model_config = ConfigDict(str_strip_whitespace=True)  # a setting that changes strings


@pytest.mark.parametrize("task", [_Tagged, _Counted, _Validated, _Stripped], ids=lambda m: m.__name__)
def test_what_the_reader_cannot_check_turns_the_fast_path_off(task: type[Task]) -> None:
    """pydantic then reads every body, and the batch still carries every field."""

    class Request(ScheduleRequest):
        tasks: list[task]  # type: ignore[valid-type]

    reader = Reader(Request)
    assert not reader.fast
    doc = random_batch(3, 1, 0)
    doc["tasks"][0]["id"] = " padded "
    body = json.dumps(doc)
    assert reader.read_fast(body) is None
    batch = reader.read(body)
    assert batch.tasks.keys() == task.model_fields.keys()
    assert batch.task_ids[0] == (" padded ".strip() if task is _Stripped else " padded ")
    assert read_fast(body) is not None  # the request itself is still read fast
