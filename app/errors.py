"""Every error the service answers, and its HTTP mapping: the one place where that happens.

Code raises :class:`ApiError` (or lets a pydantic ``ValidationError`` or the solver's
``DomainError`` through); the handlers registered by :func:`install` turn each into the body
of docs/api.md: ``{"error": {"code", "message", "details": [{"loc", "msg", "type"}]}}``.
Routes never build error responses by hand.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.solver import (
    DomainError,
    ModelsUnsupportedError,
    UnknownAlgorithmError,
    UnknownOptionError,
)

log = logging.getLogger("dsct.errors")

# code -> (HTTP status, what it means). The README's error table is this dict.
CODES: dict[str, tuple[int, str]] = {
    "malformed_json": (422, "the body is not valid JSON (truncated, NaN/Infinity literals inside, too deeply nested, not UTF-8)"),
    "invalid_request": (422, "the JSON does not match the schema: wrong types, missing or unknown fields, out-of-range or non-finite numbers, a_max <= a_min, ...; details name every field"),
    "duplicate_id": (422, "two tasks or two machines share an id; details name both indices"),
    "unknown_algorithm": (422, "algorithm is not in the registry; the message lists the known ones"),
    "unknown_model": (422, "a task names a model that is neither in the batch's models[] nor in the catalogue (GET /models)"),
    "models_unsupported": (422, "the algorithm cannot schedule tasks of measured models; the message names the ones that can"),
    "numeric_range": (422, "finite numbers whose combination overflows double precision (e.g. deadline * total speed), so no meaningful schedule exists"),
    "unsupported_media_type": (415, "Content-Type is not application/json (or a +json type)"),
    "body_too_large": (413, "the body is over DSCT_MAX_BODY_BYTES (checked from Content-Length, then while reading)"),
    "too_many_tasks": (413, "more tasks than DSCT_MAX_TASKS"),
    "too_many_machines": (413, "more machines than DSCT_MAX_MACHINES"),
    "too_many_models": (413, "more models[] than DSCT_MAX_MODELS"),
    "too_many_configs": (413, "a model with more configurations than DSCT_MAX_CONFIGS"),
    "request_timeout": (408, "the request's head or body did not arrive in time (DSCT_HEADER_TIMEOUT, DSCT_BODY_TIMEOUT, DSCT_MIN_BODY_RATE); the connection is closed"),
    "headers_too_large": (431, "the request's head is over DSCT_MAX_HEADER_BYTES or has more than DSCT_MAX_HEADERS fields"),
    "unauthorized": (401, "API keys are configured and the Authorization: Bearer <key> header is missing or wrong"),
    "not_found": (404, "no such path"),
    "method_not_allowed": (405, "the path exists, not with this method"),
    "overloaded": (503, "this worker is at a capacity limit (DSCT_MEMORY_BUDGET, DSCT_MAX_IN_FLIGHT, DSCT_MAX_SEARCHES); retry after Retry-After seconds"),
    "solve_timeout": (503, "the solve passed DSCT_SOLVE_TIMEOUT; the computation is abandoned"),
    "internal_error": (500, "a bug: never expected for any input"),
}


@dataclass(frozen=True)
class Issue:
    """One problem with a request: its error code, the field path and a message."""

    code: str
    loc: tuple[str | int, ...]
    msg: str
    type: str | None = None

    def detail(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type or self.code}


@dataclass
class ApiError(Exception):
    """An error answer: ``code`` (a key of :data:`CODES`) fixes the HTTP status."""

    code: str
    message: str
    details: Sequence[Issue] = field(default_factory=tuple)
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown error code {self.code!r}")
        super().__init__(f"{self.code}: {self.message}")

    @property
    def status(self) -> int:
        return CODES[self.code][0]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message,
                          "details": [i.detail() for i in self.details]}}

    def body_bytes(self) -> bytes:
        return json.dumps(self.body(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_issues(cls, issues: Sequence[Issue]) -> ApiError:
        """One error for several issues: the code they share, else 413 codes first, else
        ``invalid_request``; every issue is kept in ``details``."""
        codes = list(dict.fromkeys(i.code for i in issues))
        too_large = [c for c in codes if CODES[c][0] == 413]
        if len(codes) == 1:
            code = codes[0]
        elif too_large:
            code = too_large[0]
            issues = [i for i in issues if CODES[i.code][0] == 413]
        else:
            code = "invalid_request"
        first = issues[0]
        where = ".".join(str(p) for p in first.loc) or "body"
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        return cls(code, f"{where}: {first.msg}{more}", tuple(issues))


class ClientGone(Exception):
    """The client disconnected before its answer: nothing is sent, no traceback is logged,
    and the request is counted with the outcome ``disconnected``."""


def issues_from_validation(errors: Iterable[dict[str, Any]]) -> list[Issue]:
    """pydantic error dicts -> issues (``json_invalid`` becomes ``malformed_json``)."""
    out = []
    for e in errors:
        kind = e.get("type", "")
        code = "malformed_json" if kind == "json_invalid" else "invalid_request"
        out.append(Issue(code, tuple(e.get("loc", ())), str(e.get("msg", "")), kind))
    return out


#: the solver's per-machine arrays (every other array but the models' is per task)
_MACHINE_ARRAYS = frozenset({"speed", "available_at"})


def issues_from_domain(exc: DomainError) -> list[Issue]:
    """The solver's DomainError -> one issue, its array name mapped back to the wire path:
    an unknown algorithm or option names the request's field; an overflow (the solver's
    one judge of numbers whose combination overflows) is ``numeric_range``, with that type
    too; a problem with the whole result (no field) has the path ``[]``."""
    if isinstance(exc, UnknownAlgorithmError):
        return [Issue("unknown_algorithm", ("algorithm",), exc.message)]
    if isinstance(exc, ModelsUnsupportedError):
        return [Issue("models_unsupported", ("algorithm",), exc.message)]
    if isinstance(exc, UnknownOptionError):
        return [Issue("invalid_request", (exc.option,), exc.message, "unknown_option")]
    loc: tuple[str | int, ...] = ()
    if exc.field:
        group = "machines" if exc.field in _MACHINE_ARRAYS else "models" if exc.field.startswith("models.") \
            else "tasks"
        loc = (group,) if exc.index is None else (group, exc.index, exc.field)
    if exc.kind == "overflow":
        return [Issue("numeric_range", loc, exc.message, "numeric_range")]
    return [Issue("invalid_request", loc, exc.message, "domain_error")]


def _respond(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


#: HTTP statuses Starlette raises itself (HTTPException) and their error codes
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "body_too_large",
               415: "unsupported_media_type", 503: "overloaded"}


def as_api_error(exc: Exception) -> ApiError:
    """Any exception of :data:`HANDLED` as the :class:`ApiError` it is answered with."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        return ApiError.from_issues(issues_from_validation(exc.errors()))
    if isinstance(exc, ValidationError):
        return ApiError.from_issues(issues_from_validation(exc.errors()))
    if isinstance(exc, DomainError):
        return ApiError.from_issues(issues_from_domain(exc))
    assert isinstance(exc, StarletteHTTPException)
    return ApiError(_HTTP_CODES.get(exc.status_code, "invalid_request"), str(exc.detail),
                    headers=getattr(exc, "headers", None))


def response_for(exc: Exception) -> JSONResponse:
    """The error response for an exception of :data:`HANDLED`: the one mapping used by the
    registered handlers (the router's path) and the direct dispatch of
    :mod:`app.api.middleware` alike. A Starlette HTTPException keeps its own status."""
    err = as_api_error(exc)
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else err.status
    return JSONResponse(err.body(), status_code=status, headers=err.headers)


#: the exceptions answered with a 4xx/503 error body; anything else is a 500 ``internal_error``
HANDLED: tuple[type[Exception], ...] = (ApiError, ValidationError, RequestValidationError, DomainError,
                                        StarletteHTTPException)


async def _handled(request: Request, exc: Exception) -> JSONResponse:
    return response_for(exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _respond(ApiError("internal_error", "internal error; the server log has the details"))


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    for kind in HANDLED:
        app.add_exception_handler(kind, _handled)
    app.add_exception_handler(Exception, _unexpected)
