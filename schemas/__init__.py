"""The wire models of docs/api.md (pydantic v2): request, response, errors.

Only models live here: no solver, no FastAPI. :mod:`app.mapping` converts them to and from
the solver's arrays. Field names are fixed by the contract; fields may be added, never
renamed.

Parsing is strict on purpose: numbers must be JSON numbers (no strings, no booleans), every
number must be finite, and unknown fields are rejected (``extra="forbid"``) so that nothing
a caller sends is silently dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

# the one place the default algorithm is decided is the solver's registry
from app.solver.registry import DEFAULT_ALGORITHM

# the one list of unscheduled reasons is the solver's
from app.solver.schedule import BELOW_MIN_ACCURACY, REASONS

__all__ = [
    "Assignment",
    "CatalogueEntry",
    "Catalogue",
    "Config",
    "MeasuredModel",
    "ErrorBody",
    "ErrorDetail",
    "ErrorResponse",
    "Liveness",
    "Machine",
    "MachineSchedule",
    "Objective",
    "Readiness",
    "ScheduleRequest",
    "ScheduleResponse",
    "Task",
    "Timings",
    "Unscheduled",
    "ValidationProblem",
    "ValidationReport",
    "ValidationWarning",
    "above",
    "curve_or_model",
]

ID_MAX = 256
LABEL_MAX = 256
#: the largest ``tasks[].weight``: weight x accuracy (at most 1) and its sum over the
#: largest batch stay far inside double precision, and a ratio of 1e12 between two tasks'
#: weights (1e-6 to 1e6) is more than any priority scheme needs
WEIGHT_MAX = 1e6

Id = Annotated[
    str,
    Field(min_length=1, max_length=ID_MAX, description="Identifier, unique in the batch: 1 to 256 characters."),
]


class _Wire(BaseModel):
    """Request side: strict types, finite numbers, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class _Out(BaseModel):
    """Response side."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def above(field: str, lower: str) -> Any:
    """A validator: ``field`` must be greater than the model's field ``lower`` (declared
    before it). Error type ``<field>_not_above_<lower>``. The pair is kept on the validator
    (``above``), where the fast reader (:mod:`app.batch`) finds the rule it must check."""

    def check(cls: type[BaseModel], v: float, info: ValidationInfo) -> float:
        bound = info.data.get(lower)
        if bound is not None and not v > bound:
            raise PydanticCustomError(f"{field}_not_above_{lower}", f"must be > {lower} ({{{lower}}})", {lower: bound})
        return v

    check.above = (field, lower)  # type: ignore[attr-defined]
    return field_validator(field)(classmethod(check))  # type: ignore[arg-type]


#: a task's own accuracy curve: the fields a task of a measured model leaves out
CURVE_FIELDS = ("theta", "a_min", "a_max", "t_max")


def curve_or_model(model: str, required: str, curve: tuple[str, ...] = CURVE_FIELDS) -> Any:
    """A validator: an item gives either ``model`` or its own curve (``curve``, of which
    ``required`` is required), never both. The rule is kept on the validator
    (``either_or``): the fast reader (:mod:`app.batch`) reads items whose ``model`` is null
    and whose ``required`` is given, and leaves every other body to pydantic."""

    def check(self: BaseModel) -> BaseModel:
        if getattr(self, model) is not None:
            both = [f for f in curve if f in self.model_fields_set]
            if both:
                raise PydanticCustomError(
                    "model_and_curve",
                    "a task with a model gives no curve of its own: drop {fields} or model",
                    {"fields": ", ".join(both)})
        elif getattr(self, required) is None:
            raise PydanticCustomError(
                "curve_missing", "a task without a model needs its curve: {field} is required", {"field": required})
        return self

    check.either_or = (model, required)  # type: ignore[attr-defined]
    return model_validator(mode="after")(check)


# --------------------------------------------------------------------------- request


class Machine(_Wire):
    """A machine the batch may use."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "a2000-b", "speed": 3.5, "available_at": 0.02}]}
    )

    id: Id
    speed: float = Field(
        1.0,
        gt=0,
        description="Work units per second (1 = the reference machine on which t_max is measured). Finite, > 0.",
    )
    available_at: float = Field(
        0.0,
        ge=0,
        description="Seconds from the batch's time zero at which the machine becomes free. Finite, >= 0.",
    )


def _curve_or_model_schema() -> dict[str, Any]:
    """The rule of :func:`curve_or_model` in JSON Schema: a task names a model and none of
    the curve fields, or gives ``theta`` (a number) and no model."""
    return {"anyOf": [
        {"required": ["model"], "properties": {"model": {"type": "string"}},
         "not": {"anyOf": [{"required": [f]} for f in CURVE_FIELDS]}},
        {"required": ["theta"], "properties": {"model": {"type": "null"}, "theta": {"type": "number"}}},
    ]}


class Task(_Wire):
    """An inference request: deadline, and either an accuracy curve and uncompressed size
    or a measured model."""

    model_config = ConfigDict(
        json_schema_extra={
            **_curve_or_model_schema(),
            "examples": [
                {"id": "cam3/1182", "deadline": 0.25, "theta": 40.0, "a_min": 0.001, "a_max": 0.82, "t_max": 0.115}
            ]
        }
    )

    id: Id
    deadline: float = Field(ge=0, description="Seconds from the batch's time zero. Finite, >= 0.")
    model: str | None = Field(
        None,
        min_length=1,
        max_length=ID_MAX,
        description="A measured model (models[] of this batch, else the server's catalogue, GET /models): "
        "the task runs one of its configurations. A task gives either model or its own curve "
        "(theta, a_min, a_max, t_max), never both.",
    )
    theta: float | None = Field(
        None,
        gt=0,
        description="Efficiency of the accuracy curve, in 1/work-second: "
        "a(work) = a_min + (a_max - a_min) * (1 - exp(-theta * work)). Finite, > 0. "
        "Required unless the task gives a model.",
    )
    a_min: float = Field(0.0, ge=0, le=1, description="Accuracy with no work (unitless, in [0, 1]).")
    a_max: float = Field(
        1.0, gt=0, le=1, validate_default=True,  # the default 1 must be > a_min too
        description="Accuracy approached with unbounded work (unitless, in (a_min, 1]).",
    )
    t_max: float | None = Field(
        None,
        gt=0,
        description="Uncompressed size in work units (seconds on a speed-1 machine); "
        "work never exceeds it. Finite, > 0, or null for no upper bound.",
    )

    weight: float = Field(
        1.0,
        ge=0,
        le=WEIGHT_MAX,
        description="Priority: the objective is sum of weight * accuracy. Finite, in [0, 1e6]; "
        "default 1. A task of weight 0 adds nothing and is served only with time no other task can use.",
    )
    min_accuracy: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Accuracy floor, in [0, 1], or null (default: none). If the task is scheduled, "
        "its accuracy is at least this; a task that cannot get it is unscheduled with reason "
        "below_min_accuracy, so that the caller can send it elsewhere.",
    )

    _a_max_above_a_min = above("a_max", "a_min")
    _curve_or_model = curve_or_model("model", "theta")


class Config(_Wire):
    """One measured configuration of a model (a sub-network, a quantised build, an input
    resolution): the work it needs and the accuracy it reaches."""

    id: Id
    work: float = Field(gt=0, description="Seconds on a machine of speed 1 (the unit of t_max). Finite, > 0.")
    accuracy: float = Field(ge=0, le=1, description="Measured accuracy of this configuration, in [a_min, 1].")


class MeasuredModel(_Wire):
    """A model that runs in a few measured configurations instead of a curve."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "ofa-mbv3", "a_min": 0.001,
                 "configs": [{"id": "r160-d2", "work": 0.008, "accuracy": 0.714},
                             {"id": "r224-d4", "work": 0.030, "accuracy": 0.784}]}
            ]
        }
    )

    id: Id
    a_min: float = Field(0.0, ge=0, le=1, description="What a task of this model scores when given no time, in [0, 1].")
    configs: list[Config] = Field(
        min_length=1, description="At least one; ids unique within the model; every accuracy in [a_min, 1]."
    )


class ScheduleRequest(_Wire):
    """A batch: the tasks to schedule and the machines they may use."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "label": "cell-17 batch 8812",
                    "algorithm": DEFAULT_ALGORITHM,
                    "machines": [
                        {"id": "jetson-a", "speed": 1.0, "available_at": 0.0},
                        {"id": "a2000-b", "speed": 3.5, "available_at": 0.020},
                    ],
                    "tasks": [
                        {"id": "cam3/1182", "deadline": 0.250, "theta": 40.0, "a_min": 0.001,
                         "a_max": 0.82, "t_max": 0.115}
                    ],
                }
            ]
        }
    )

    label: str | None = Field(None, max_length=LABEL_MAX, description="Free text, at most 256 characters; echoed back.")
    algorithm: str = Field(
        DEFAULT_ALGORITHM,
        min_length=1,
        max_length=64,
        description=f"Name of a registered algorithm (default {DEFAULT_ALGORITHM}: DSCT-APPROX's schedule "
        "improved by a speed-aware assignment, the paper's baselines when they could win and a bounded "
        "local search, never worse than any of them). An unknown name is a 422 "
        "(code unknown_algorithm) whose message lists the known ones; see GET /readyz for the list.",
        examples=[DEFAULT_ALGORITHM, "dsct-approx", "dsct-refined", "edf-nocompression", "edf-3levels"],
    )
    time_limit: float | None = Field(
        None,
        gt=0,
        description="Seconds, for algorithms that search (the exact one); others ignore it. "
        "Capped by the server's DSCT_MAX_TIME_LIMIT.",
    )
    machines: list[Machine] = Field(min_length=1, description="At least one machine.")
    tasks: list[Task] = Field(description="The tasks; may be empty.")
    models: list[MeasuredModel] = Field(
        [],
        description="Measured models the tasks may name (ids unique in the batch; one here hides a "
        "catalogue model of the same id). Their number and configurations are limited by the "
        "server (DSCT_MAX_MODELS, DSCT_MAX_CONFIGS): 413 past them.",
    )


# --------------------------------------------------------------------------- response


class Assignment(_Out):
    """One task placed on a machine."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"task_id": "cam3/1182", "start": 0.0, "end": 0.115, "duration": 0.115, "work": 0.115,
                 "compression": 0.0, "accuracy": 0.8118}
            ]
        }
    )

    task_id: str = Field(description="The task's id.")
    start: float = Field(description="Start, seconds from time zero.")
    end: float = Field(description="End (start + duration), seconds from time zero.")
    duration: float = Field(description="Seconds on this machine.")
    work: float = Field(description="Work units done: speed * duration.")
    compression: float | None = Field(
        description="1 - work / t_max (0 runs the full model); null when the task's t_max is null. "
        "For a model task, 1 - work / (the largest configuration work of its model)."
    )
    accuracy: float = Field(description="a(work), unitless; for a model task, its configuration's accuracy.")
    config: str | None = Field(
        None, description="The configuration a model task runs (its id in its model); null for curve tasks."
    )


class MachineSchedule(_Out):
    """A request machine and what it runs, in start order (never overlapping)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "a2000-b", "assignments": []}]})

    id: str = Field(description="The machine's id.")
    assignments: list[Assignment] = Field(description="Tasks on this machine, in start order.")


class Unscheduled(_Out):
    """A task given no time."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"task_id": "cam9/7", "reason": "deadline_before_available", "accuracy": 0.001}]
        }
    )

    task_id: str = Field(description="The task's id.")
    reason: str = Field(
        description=f"Machine-readable code: {', '.join(REASONS[:-1])} or {REASONS[-1]} (see docs/api.md). "
        f"{BELOW_MIN_ACCURACY}: the task's min_accuracy could not be met; send it elsewhere."
    )
    accuracy: float = Field(description="The accuracy it scores: its a_min.")


class Objective(_Out):
    """The schedule's value and its bounds."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"total_accuracy": 0.8118, "mean_accuracy": 0.8118, "weighted_accuracy": 0.8118,
                          "upper_bound": 0.8118, "guarantee": 1.638}]
        }
    )

    total_accuracy: float = Field(description="Sum of the tasks' accuracies (unscheduled ones count a_min).")
    mean_accuracy: float = Field(description="total_accuracy / number of tasks; 0 when there are no tasks.")
    weighted_accuracy: float = Field(
        description="The objective: sum of weight * accuracy over all tasks (unscheduled ones at their "
        "a_min); equals total_accuracy when every weight is 1. upper_bound, guarantee and "
        "proven_bound refer to it."
    )
    upper_bound: float = Field(
        description="Optimum of the fractional relaxation of the weighted objective: no schedule "
        "that respects the accuracy floors can beat it."
    )
    guarantee: float | None = Field(
        description="The paper's absolute bound G (Theorem 3) on upper_bound - weighted_accuracy, "
        "computed with the weighted ranges weight * (a_max - a_min), "
        "for the algorithms never worse than dsct-approx (dsct-best, dsct-approx, dsct-refined, "
        "exact); null for the others (the edf-* baselines), which it does not bound, null "
        "when the batch has tasks of measured models (the theorem covers curves only), and null "
        "when any task has a min_accuracy (nor does it cover floors)."
    )
    proven_bound: float | None = Field(
        None,
        description="A proven upper bound on the best possible weighted_accuracy, tighter than "
        "upper_bound: given by the `exact` algorithm (status `optimal` when weighted_accuracy is "
        "within its relative gap tolerance, 1e-4); null for the other algorithms.",
    )


class Timings(_Out):
    """Server-side wall-clock times, in seconds."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"parse_seconds": 0.0002, "solve_seconds": 0.0004, "total_seconds": 0.0009}]}
    )

    parse_seconds: float = Field(description="Parsing and validating the body, seconds.")
    solve_seconds: float = Field(description="The algorithm itself, seconds.")
    total_seconds: float = Field(description="Parse, solve and building the response, seconds.")


class ScheduleResponse(_Out):
    """A schedule for the batch. Every task appears exactly once: in an assignment or in unscheduled."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": "5f0c2b1e9d8a4c7f8e6d5c4b3a291807",
                    "label": "cell-17 batch 8812",
                    "algorithm": DEFAULT_ALGORITHM,
                    "status": "ok",
                    "objective": {"total_accuracy": 0.8118, "mean_accuracy": 0.8118,
                                  "weighted_accuracy": 0.8118, "upper_bound": 0.8118, "guarantee": 1.638},
                    "machines": [
                        {"id": "jetson-a", "assignments": [
                            {"task_id": "cam3/1182", "start": 0.0, "end": 0.115, "duration": 0.115,
                             "work": 0.115, "compression": 0.0, "accuracy": 0.8118}]},
                        {"id": "a2000-b", "assignments": []},
                    ],
                    "unscheduled": [],
                    "timings": {"parse_seconds": 0.0002, "solve_seconds": 0.0004, "total_seconds": 0.0009},
                }
            ]
        }
    )

    run_id: str = Field(description="Unique id of this run (32 hex digits), also in the server's log line.")
    label: str | None = Field(description="The request's label, echoed (null when none was sent).")
    algorithm: str = Field(description="The algorithm that produced the schedule.")
    status: str = Field(
        description='"ok" for the heuristics; the exact algorithm reports "optimal" or "time_limit".'
    )
    objective: Objective
    machines: list[MachineSchedule] = Field(description="One entry per request machine, in request order.")
    unscheduled: list[Unscheduled] = Field(description="Every task given no time, in request order.")
    timings: Timings


# --------------------------------------------------------------------------- errors


class ErrorDetail(_Out):
    """One offending field."""

    loc: list[str | int] = Field(description='Path to the field, e.g. ["tasks", 3, "theta"]; [] for the whole body.')
    msg: str = Field(description="What is wrong with it.")
    type: str | None = Field(None, description="Machine-readable kind of problem (e.g. greater_than, duplicate_id).")


class ErrorBody(_Out):
    code: str = Field(description="Stable machine-readable code; see the README's error table.")
    message: str = Field(description="Human-readable summary.")
    details: list[ErrorDetail] = Field(description="The offending fields; may be empty.")


class ErrorResponse(_Out):
    """Every error answer has this body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"error": {"code": "invalid_request", "message": "1 invalid field",
                           "details": [{"loc": ["tasks", 3, "theta"], "msg": "Input should be greater than 0",
                                        "type": "greater_than"}]}}
            ]
        }
    )

    error: ErrorBody


# --------------------------------------------------------------------------- validate-only and ops


class ValidationProblem(_Out):
    """One problem found by POST /schedule/validate."""

    code: str = Field(description="The error code POST /schedule would answer for it (e.g. invalid_request).")
    loc: list[str | int] = Field(description="Path to the field; [] for the whole body.")
    msg: str = Field(description="What is wrong.")


class ValidationWarning(_Out):
    """A legal but suspicious value found by POST /schedule/validate: the batch stays valid."""

    code: str = Field(
        description="long_deadline, long_t_max, t_max_out_of_reach, min_accuracy_above_curve, "
        "min_accuracy_above_configs or min_accuracy_out_of_reach (see docs/api.md)."
    )
    loc: list[str | int] = Field(description="Path to the first field concerned.")
    msg: str = Field(description="What looks wrong, how many tasks it concerns, and the first value.")


class ValidationReport(_Out):
    """Result of a dry run: every problem found, nothing solved."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"valid": False, "tasks": 2, "machines": 1, "algorithm": DEFAULT_ALGORITHM,
                 "errors": [{"code": "duplicate_id", "loc": ["tasks", 1, "id"],
                             "msg": "duplicate task id 'cam3/1182' (first at tasks[0])"}],
                 "warnings": []},
                {"valid": True, "tasks": 1, "machines": 2, "algorithm": DEFAULT_ALGORITHM, "errors": [],
                 "warnings": [{"code": "long_deadline", "loc": ["tasks", 0, "deadline"],
                               "msg": "1 task with deadline over 60 s (first: 150.0 s); times are in "
                                      "seconds and work in seconds on a speed-1 machine: were these "
                                      "milliseconds?"}]},
            ]
        }
    )

    valid: bool = Field(description="True when POST /schedule would accept the batch (errors is then empty).")
    tasks: int | None = Field(None, description="Number of tasks, when the body is a JSON object with a tasks array.")
    machines: int | None = Field(None, description="Number of machines, likewise.")
    algorithm: str | None = Field(None, description="The algorithm that would run, when known.")
    errors: list[ValidationProblem] = Field(
        description="Every problem found (empty when valid). When the body breaks the schema, the "
        "rest of it is still checked where it can be read (limits, duplicate ids, the algorithm)."
    )
    warnings: list[ValidationWarning] = Field(
        description="Legal but suspicious values (never a reason to reject): times that look like "
        "milliseconds, a t_max no machine can reach, a min_accuracy no schedule can meet (the task "
        "will be unscheduled with reason below_min_accuracy). Given for a body that passes the schema; "
        "the min_accuracy ones for a batch that is valid."
    )


class CatalogueEntry(_Out):
    """A measured model the server bundles: any batch may name it by id."""

    id: str = Field(description="The id tasks[].model names.")
    source: str = Field(description="Where the measurements come from (publication, licence).")
    device: str = Field(description="The device the works were measured on: speed 1 for this model.")
    a_min: float = Field(description="What a task of it scores when given no time.")
    configs: list[Config] = Field(description="Its configurations.")


class Catalogue(_Out):
    """GET /models: the bundled catalogue."""

    models: list[CatalogueEntry]


class Liveness(_Out):
    status: Literal["ok"] = "ok"


class Readiness(_Out):
    status: Literal["ready"] = "ready"
    algorithms: list[str] = Field(description="Names of the registered algorithms.")
    version: str = Field(description="Service version.")


def example(model: type[BaseModel]) -> Any:
    """The first documented example of ``model``."""
    return model.model_config["json_schema_extra"]["examples"][0]
