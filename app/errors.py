"""Every error the service answers, and its HTTP mapping: the one place where that happens.

Code raises :class:`ApiError` (or lets a pydantic ``ValidationError`` or the solver's
``DomainError`` through); the handlers registered by :func:`install` turn each into the body
of docs/api.md: ``{"error": {"code", "message", "details": [{"loc", "msg", "type"}]}}``.
Routes never build error responses by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.solver import DomainError, UnknownAlgorithmError

log = logging.getLogger("dsct.errors")

# code -> (HTTP status, what it means). The README's error table is this dict.
CODES: dict[str, tuple[int, str]] = {
    "malformed_json": (422, "the body is not valid JSON (truncated, NaN/Infinity literals inside, too deeply nested, not UTF-8)"),
    "invalid_request": (422, "the JSON does not match the schema: wrong types, missing or unknown fields, out-of-range or non-finite numbers, a_max <= a_min, ...; details name every field"),
    "duplicate_id": (422, "two tasks or two machines share an id; details name both indices"),
    "unknown_algorithm": (422, "algorithm is not in the registry; the message lists the known ones"),
    "numeric_range": (422, "finite numbers whose combination overflows double precision (e.g. deadline * total speed), so no meaningful schedule exists"),
    "unsupported_media_type": (415, "Content-Type is not application/json (or a +json type)"),
    "body_too_large": (413, "the body is over DSCT_MAX_BODY_BYTES (checked from Content-Length, then while reading)"),
    "too_many_tasks": (413, "more tasks than DSCT_MAX_TASKS"),
    "too_many_machines": (413, "more machines than DSCT_MAX_MACHINES"),
    "unauthorized": (401, "API keys are configured and the Authorization: Bearer <key> header is missing or wrong"),
    "not_found": (404, "no such path"),
    "method_not_allowed": (405, "the path exists, not with this method"),
    "overloaded": (503, "too many solves in flight in this worker (DSCT_MAX_IN_FLIGHT); retry later"),
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


def issues_from_validation(errors: Iterable[dict[str, Any]]) -> list[Issue]:
    """pydantic error dicts -> issues (``json_invalid`` becomes ``malformed_json``)."""
    out = []
    for e in errors:
        kind = e.get("type", "")
        code = "malformed_json" if kind == "json_invalid" else "invalid_request"
        out.append(Issue(code, tuple(e.get("loc", ())), str(e.get("msg", "")), kind))
    return out


def issues_from_domain(exc: DomainError) -> list[Issue]:
    """The solver's DomainError -> one issue, its array name mapped back to the wire path."""
    if isinstance(exc, UnknownAlgorithmError):
        return [Issue("unknown_algorithm", ("algorithm",), exc.message)]
    task_fields = {"deadline", "theta", "a_min", "a_max", "t_max"}
    group = "tasks" if exc.field in task_fields else "machines"
    loc: tuple[str | int, ...] = (group,) if exc.index is None else (group, exc.index, exc.field)
    code = "numeric_range" if exc.kind == "overflow" else "invalid_request"
    return [Issue(code, loc, exc.message, "domain_error")]


def _respond(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


def response_for(exc: ApiError | ValidationError | DomainError) -> JSONResponse:
    """The error response for an exception a route may raise (the registered handlers and
    the direct dispatch of :mod:`app.api.middleware` both answer through here)."""
    if isinstance(exc, ApiError):
        return _respond(exc)
    if isinstance(exc, ValidationError):
        return _respond(ApiError.from_issues(issues_from_validation(exc.errors())))
    return _respond(ApiError.from_issues(issues_from_domain(exc)))


async def _route_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError | ValidationError | DomainError)
    return response_for(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _respond(ApiError.from_issues(issues_from_validation(exc.errors())))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "body_too_large",
            415: "unsupported_media_type", 503: "overloaded"}.get(exc.status_code, "invalid_request")
    err = ApiError(code, str(exc.detail))
    return JSONResponse(err.body(), status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _respond(ApiError("internal_error", "internal error; the server log has the details"))


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(ApiError, _route_error)
    app.add_exception_handler(ValidationError, _route_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DomainError, _route_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
