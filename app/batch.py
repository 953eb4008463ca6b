"""The input parser: a ``POST /schedule`` body -> a :class:`Batch` (options and named columns).

:class:`schemas.ScheduleRequest` is the contract, and pydantic is the reference parser: it
decides what is valid and words every error. Building its 1 + m + n model objects is,
though, the largest cost of a small request after the solve (docs/robustness.md has the
figures). :func:`read` therefore tries :func:`read_fast` first: orjson, a handful of
whole-column type and range checks, and numpy arrays, with no model objects. It accepts only
bodies that are plainly valid and answers ``None`` at the first doubt, and then pydantic
parses the body as before, so every error, its order and its wording are pydantic's. The
fast path never accepts a body that pydantic rejects, and yields exactly the batch pydantic's
models give (``tests/test_batch.py`` checks both on generated bodies). Complexity: O(n + m).

Nothing about the fields is written here: :class:`Reader` takes every field's name, type,
default and bounds from the models' ``model_fields`` (:func:`column`), and the cross-field
rules from the validators :func:`schemas.above` makes. A field the reader cannot check (a
type or a constraint it does not know, a validator of another kind) turns the fast path off
for its model, so pydantic then reads every body: still correct, only slower. Adding an
optional number, bounded or not, nullable or not, or a string field to ``schemas`` therefore
needs no edit here.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import annotated_types as at
import numpy as np
import orjson
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from schemas import ScheduleRequest

__all__ = ["Batch", "Column", "Reader", "Table", "column", "from_request", "read", "read_fast"]

#: what a null number stands for in a column: no bound (``t_max`` null is no size cap)
NULL_NUMBER = float("inf")
#: Batch columns: a list of str per text field, a float64 array per number field
Columns = dict[str, Any]


@dataclass(frozen=True, eq=False, slots=True)
class Batch:
    """A valid request as the pipeline uses it: its scalar fields (``options``: label,
    algorithm, time_limit, defaults filled in) and one column per field of its tasks and of
    its machines, keyed by the field's name: the ids as lists in request order, every number
    as a float64 array (a null number is :data:`NULL_NUMBER`). Its checks are the schema's
    alone: the batch's own problems (limits, duplicate ids, an unknown algorithm,
    overflowing combinations) are :func:`app.mapping.check_batch`'s and the solver's."""

    options: dict[str, Any]
    machines: Columns
    tasks: Columns
    #: the batch's measured models: ``id`` and ``a_min`` columns, and ``configs`` (per model,
    #: its list of :class:`schemas.Config`)
    models: Columns | None = None

    @property
    def label(self) -> str | None:
        return self.options["label"]

    @property
    def algorithm(self) -> str:
        return self.options["algorithm"]

    @property
    def time_limit(self) -> float | None:
        return self.options["time_limit"]

    @property
    def task_ids(self) -> list[str]:
        return self.tasks["id"]

    @property
    def machine_ids(self) -> list[str]:
        return self.machines["id"]

    @property
    def n(self) -> int:
        return len(self.tasks["id"])

    @property
    def m(self) -> int:
        return len(self.machines["id"])


# --------------------------------------------------------------------------- the field table

NUMBER, TEXT, OTHER = "number", "text", "other"
_MISSING = object()  # a required key left out: no type accepts it
_NULL = type(None)
_ONLY_NULL = {_NULL}
_NUMBER = frozenset({float, int})  # strict mode: JSON integers and floats, never booleans
_TEXT = frozenset({str})
_KINDS = {float: NUMBER, str: TEXT}


@dataclass(frozen=True, slots=True)
class Column:
    """One scalar field of a model as the fast reader checks it (see :func:`column`).

    ``kind`` is ``number`` (a float field: JSON integers and floats), ``text`` (a str
    field) or ``other`` (anything else: the fast path then declines the model). A value
    must be ``> low`` (``>= low`` when ``low_inclusive``) and ``< high`` (``<= high``);
    a text's length must be in ``[min_len, max_len]``. ``default`` is :data:`_MISSING`
    for a required field."""

    name: str
    kind: str
    nullable: bool = False
    default: Any = _MISSING
    low: float | None = None
    low_inclusive: bool = False
    high: float | None = None
    high_inclusive: bool = False
    min_len: int | None = None
    max_len: int | None = None
    #: the Python types orjson may give for an acceptable value
    types: frozenset[type] = frozenset()

    def low_ok(self, x: float) -> bool:
        return self.low is None or (x >= self.low if self.low_inclusive else x > self.low)

    def high_ok(self, x: float) -> bool:
        return self.high is None or (x <= self.high if self.high_inclusive else x < self.high)

    def accepts(self, value: Any) -> bool:
        """Whether one value passes this column's checks (for the request's own scalars)."""
        if type(value) not in self.types:  # never for kind other: its types are empty
            return False
        if value is None:
            return True
        if self.kind == NUMBER:
            low, high = self.low, self.high
            return ((low is None or (value >= low if self.low_inclusive else value > low))
                    and (high is None or (value <= high if self.high_inclusive else value < high)))
        return ((self.min_len is None or len(value) >= self.min_len)
                and (self.max_len is None or len(value) <= self.max_len))


def _kind(annotation: Any) -> tuple[str, bool]:
    """(kind, nullable) of a field's annotation: ``float``, ``str``, either ``| None``."""
    nullable = False
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(annotation) if a is not _NULL]
        nullable = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            return OTHER, nullable
        annotation = args[0]
    return _KINDS.get(annotation, OTHER), nullable


def column(name: str, info: FieldInfo) -> Column:
    """The reader's view of a pydantic field: its kind, default and constraints (``gt``,
    ``ge``, ``lt``, ``le``, ``min_length``, ``max_length``). Anything else (another type,
    an alias, a default factory, another constraint) makes it ``other``."""
    kind, nullable = _kind(info.annotation)
    default = _MISSING if info.is_required() else info.default
    if info.alias not in (None, name) or info.default_factory is not None:
        kind = OTHER
    bounds: dict[str, Any] = {}
    for c in info.metadata:
        if isinstance(c, at.Gt | at.Ge) and kind == NUMBER:
            bounds.update(low=float(c.gt if isinstance(c, at.Gt) else c.ge), low_inclusive=isinstance(c, at.Ge))
        elif isinstance(c, at.Lt | at.Le) and kind == NUMBER:
            bounds.update(high=float(c.lt if isinstance(c, at.Lt) else c.le), high_inclusive=isinstance(c, at.Le))
        elif isinstance(c, at.MinLen) and kind == TEXT:
            bounds["min_len"] = c.min_length
        elif isinstance(c, at.MaxLen) and kind == TEXT:
            bounds["max_len"] = c.max_length
        else:
            kind = OTHER
    base = _NUMBER if kind == NUMBER else _TEXT if kind == TEXT else frozenset()
    return Column(name, kind, nullable, default, **bounds, types=base | {_NULL} if nullable else base)


#: model settings that change what a string field accepts or gives
_STRING_SETTINGS = ("str_strip_whitespace", "str_to_lower", "str_to_upper", "str_min_length", "str_max_length")


def _cross_field_rules(model: type[BaseModel]) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], bool]:
    """The model's ``(field, field it must exceed)`` rules (validators made by
    :func:`schemas.above`), its ``(model, required)`` rules (made by
    :func:`schemas.curve_or_model`: the fast path reads items whose ``model`` is null and
    whose ``required`` is given), and whether the fields' own constraints and these rules
    are all the model checks (no other validator, no string setting)."""
    decorators = model.__pydantic_decorators__
    rules = []
    either = []
    known = not any(model.model_config.get(k) for k in _STRING_SETTINGS)
    for dec in decorators.field_validators.values():
        pair = getattr(dec.func, "above", None)
        if pair is None or dec.info.mode != "after":
            known = False
        else:
            rules.append(pair)
    for dec in decorators.model_validators.values():
        pair = getattr(dec.func, "either_or", None)
        if pair is None or dec.info.mode != "after":
            known = False
        else:
            either.append(pair)
    if decorators.validators or decorators.root_validators:
        known = False
    return tuple(rules), tuple(either), known


class Table:
    """The columns of one model (a task, a machine) and how to read a list of its items.

    Derived from the model alone; ``fast`` is False when the model has a field or a
    validator the fast reader cannot check. O(n) per list, in a fixed number of C-level
    passes over it."""

    def __init__(self, model: type[BaseModel]):
        self.model = model
        self.columns = tuple(column(name, info) for name, info in model.model_fields.items())
        self.names = tuple(c.name for c in self.columns)
        self.above, self.either, rules_known = _cross_field_rules(model)
        self.fast = rules_known and all(c.kind != OTHER for c in self.columns)
        self.keys = frozenset(self.names)
        self._every_key = itemgetter(*self.names)
        self._fill = {c.name: c.default for c in self.columns}
        # the checks as plain tuples, so that reading a list costs no attribute lookups
        self.text = [(i, c.name, c.types, c.min_len, c.max_len)
                     for i, c in enumerate(self.columns) if c.kind == TEXT]
        # numbers that may not be null go through numpy together, one row each
        self.dense = [i for i, c in enumerate(self.columns) if c.kind == NUMBER and not c.nullable]
        dense = [self.columns[i] for i in self.dense]
        self.dense_names = [c.name for c in dense]
        self.dense_low = [(k, c.low, c.low_inclusive) for k, c in enumerate(dense) if c.low is not None]
        self.dense_high = [(k, c.high, c.high_inclusive) for k, c in enumerate(dense) if c.high is not None]
        self.sparse = [(i, c) for i, c in enumerate(self.columns) if c.kind == NUMBER and c.nullable]

    def empty(self) -> Columns:
        return {c.name: [] if c.kind != NUMBER else np.zeros(0) for c in self.columns}

    def from_models(self, items: list[BaseModel]) -> Columns:
        """The columns of validated model objects (the reference path)."""
        out: Columns = {}
        for c in self.columns:
            values = [getattr(x, c.name) for x in items]
            if c.kind == NUMBER:
                if c.nullable:
                    values = [NULL_NUMBER if v is None else v for v in values]
                out[c.name] = np.array(values, dtype=np.float64)
            else:
                out[c.name] = values
        return out

    def _tuples(self, items: list[dict]) -> list[tuple] | None:
        """One tuple per column across the dicts ``items`` (:data:`_MISSING` where a required
        key is left out, the default where an optional one is), or ``None`` when some item
        has a key that is not a field."""
        try:
            cols = self._columns(items)
        except KeyError:
            if not set().union(*items) <= self.keys:
                return None
            fill = self._fill  # each item over the defaults (a C-level merge per item), then as above
            return self._columns([fill | it for it in items])
        # every item has every key: it has another one exactly when it has more than that
        return cols if sum(map(len, items)) == len(self.names) * len(items) else None

    def _columns(self, items: list[dict]) -> list[tuple]:
        """One tuple per column, each item having every key (else KeyError): C-level passes."""
        if len(self.names) == 1:  # itemgetter of one key gives the value, not a 1-tuple
            return [tuple(map(self._every_key, items))]
        return list(zip(*map(self._every_key, items)))  # noqa: B905 (equal lengths)

    def read(self, items: list[dict]) -> Columns | None:
        """The columns of ``items`` (plain dicts from orjson) when every value is plainly
        valid, else ``None``."""
        if not items:
            return self.empty()
        cols = self._tuples(items)
        if cols is None:
            return None
        out: Columns = {}
        for i, name, types_ok, min_len, max_len in self.text:
            col = cols[i]
            kinds = set(map(type, col))
            if not kinds <= types_ok:
                return None
            present = col if _NULL not in kinds else [x for x in col if x is not None]
            if present and ((min_len is not None and min(map(len, present)) < min_len)
                            or (max_len is not None and max(map(len, present)) > max_len)):
                return None
            out[name] = list(col)
        if self.dense:
            rows = [cols[i] for i in self.dense]
            for row in rows:  # a set per row: faster than one over them chained
                if not set(map(type, row)) <= _NUMBER:
                    return None
            arr = np.array(rows, dtype=np.float64)
            lo = np.minimum.reduce(arr, axis=1).tolist()
            for k, bound, inclusive in self.dense_low:
                if not (lo[k] >= bound if inclusive else lo[k] > bound):
                    return None
            if self.dense_high:
                hi = np.maximum.reduce(arr, axis=1).tolist()
                for k, bound, inclusive in self.dense_high:
                    if not (hi[k] <= bound if inclusive else hi[k] < bound):
                        return None
            out.update(zip(self.dense_names, arr, strict=True))
        for i, c in self.sparse:
            if not self._read_nullable(cols[i], c, out):
                return None
        for upper, lower in self.above:
            if not bool(np.greater(out[upper], out[lower]).all()):
                return None
        for model, required in self.either:  # only items without a model, with their curve
            if any(x is not None for x in out[model]) or bool(np.isinf(out[required]).any()):
                return None
        return out

    @staticmethod
    def _read_nullable(col: tuple, c: Column, out: Columns) -> bool:
        """Check a number column that may hold nulls; its array into ``out``."""
        kinds = set(map(type, col))
        if not kinds <= c.types:
            return False
        if kinds == _ONLY_NULL:  # the usual optional field left out: every value null
            out[c.name] = np.full(len(col), NULL_NUMBER)
            return True
        has_null = _NULL in kinds
        arr = np.array(col if not has_null else [NULL_NUMBER if x is None else x for x in col], dtype=np.float64)
        if c.low is not None and not c.low_ok(float(np.minimum.reduce(arr))):  # a null passes: it is inf
            return False
        if c.high is not None:
            present = col if not has_null else [x for x in col if x is not None]
            if present and not c.high_ok(max(present)):
                return False
        out[c.name] = arr
        return True


# --------------------------------------------------------------------------- the reader


def _list_field(info: FieldInfo) -> type[BaseModel] | None:
    """The item model of a ``list[Model]`` field, else ``None``."""
    args = typing.get_args(info.annotation)
    if typing.get_origin(info.annotation) is list and len(args) == 1 and isinstance(args[0], type) \
            and issubclass(args[0], BaseModel):
        return args[0]
    return None


#: pydantic's parser (jiter) refuses a number whose integer part has more than 4,300 digits
#: (Python's limit for int <-> str) and nesting deeper than about 200; orjson reads both
_DIGIT_BLOCK = 2_150  # every run of 4,301 digits covers an aligned block this long
_OPEN = 0x7B  # "{"; "[" (0x5B) differs from it by the bit 0x20 alone


def _beyond_jiter(body: bytes, containers: int) -> bool:
    """Whether ``body`` may hold what pydantic's parser refuses for its own limits although
    orjson reads it: a run of thousands of digits, or any object or array beyond the
    ``containers`` a valid batch has (the top level, its lists, one object per item), such
    as a deeply nested value that a duplicate key then hides. Brackets and long digit runs
    inside strings make it answer True too; pydantic then decides, as for every doubt.
    O(len(body))."""
    for i in range(0, len(body) - _DIGIT_BLOCK + 1, _DIGIT_BLOCK):
        if body[i:i + _DIGIT_BLOCK].isdigit():
            return True
    return int(np.count_nonzero((np.frombuffer(body, np.uint8) | 0x20) == _OPEN)) != containers


class Reader:
    """Reads bodies of ``model`` (a request: scalar options and lists of item models),
    all of it derived from the model's fields (see the module's docs)."""

    def __init__(self, model: type[BaseModel] = ScheduleRequest):
        self.model = model
        self.keys = frozenset(model.model_fields)
        self.options: list[Column] = []
        #: (name, item table, least number of items, default) per list field
        self.lists: list[tuple[str, Table, int, Any]] = []
        fast = _cross_field_rules(model)[2]
        for name, info in model.model_fields.items():
            item = _list_field(info)
            if item is None:
                self.options.append(c := column(name, info))
                fast &= c.kind != OTHER
                continue
            least = 0
            for c in info.metadata:
                if isinstance(c, at.MinLen):
                    least = c.min_length
                else:
                    fast = False
            default = _MISSING if info.is_required() else info.default
            fast &= info.default_factory is None and info.alias in (None, name)
            table = Table(item)
            # an optional list whose items the fast path cannot check: it reads only bodies
            # where the list is empty or left out (pydantic reads the others)
            fast &= table.fast or default is not _MISSING
            self.lists.append((name, table, least, default))
        self.fast = fast

    def from_request(self, req: BaseModel) -> Batch:
        """A batch from pydantic's validated models (the reference path). O(n + m)."""
        options = {c.name: getattr(req, c.name) for c in self.options}
        return Batch(options, **{name: table.from_models(getattr(req, name)) for name, table, _, _ in self.lists})

    def read(self, body: bytes | str) -> Batch:
        """Parse and validate a body: :meth:`read_fast`, else pydantic (whose
        :class:`pydantic.ValidationError` propagates)."""
        batch = self.read_fast(body)
        if batch is None:
            batch = self.from_request(self.model.model_validate_json(body))
        return batch

    def read_fast(self, body: bytes | str) -> Batch | None:
        """The batch when ``body`` is plainly valid, else ``None`` (then pydantic decides).

        orjson rejects what JSON forbids (NaN and Infinity literals, numbers that overflow a
        double, lone surrogates, trailing commas) and keeps the last of duplicate keys, as
        pydantic's parser does; every value it returns is finite. Two limits of pydantic's
        parser that orjson does not share are checked on the text (:func:`_beyond_jiter`).
        ``None`` is also the answer for anything unusual, such as a missing required key or
        a wrong type. O(n + m) in a fixed number of C-level passes.
        """
        if not self.fast:
            return None
        if type(body) is str:
            try:
                body = body.encode()
            except UnicodeEncodeError:  # a lone surrogate
                return None
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if type(doc) is not dict or not doc.keys() <= self.keys:
            return None
        options = {}
        for c in self.options:
            value = doc.get(c.name, c.default)
            if not c.accepts(value):
                return None
            options[c.name] = float(value) if c.kind == NUMBER and value is not None else value
        containers = 1
        lists = []
        for name, table, least, default in self.lists:
            items = doc.get(name, default)
            if not (type(items) is list and len(items) >= least and set(map(type, items)) <= {dict}):
                return None
            if items and not table.fast:
                return None
            containers += (name in doc) + len(items)
            lists.append((name, table, items))
        if _beyond_jiter(body, containers):
            return None
        columns = {}
        for name, table, items in lists:
            cols = table.read(items)
            if cols is None:
                return None
            columns[name] = cols
        return Batch(options, **columns)


#: the reader of :class:`schemas.ScheduleRequest`, and its three entry points
READER = Reader(ScheduleRequest)
read, read_fast, from_request = READER.read, READER.read_fast, READER.from_request
