"""The Gantt page: static files from the package (``app/ui``) and the bundled example batches.

The page (``GET /ui``) is plain HTML, one script and one style sheet, all served from here:
no CDN, no external host. It calls ``GET /readyz`` (the algorithms), ``GET /ui/examples``
and ``POST /schedule`` on the same origin, with the API key the user types (``POST
/schedule`` checks it as for any client). Every answer here carries a Content-Security-Policy
that allows scripts, styles and connections to this origin only, so even a mistake in the
page could not load or send anything elsewhere, and no inline script would run.
"""

from __future__ import annotations

import importlib.resources
from functools import cache

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from app.api.service import dumps
from app.errors import ApiError

router = APIRouter(include_in_schema=False)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}

#: the page's files, by the name they are served under (/ui/<name>), and their media types
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "gantt.js": "text/javascript; charset=utf-8",
    "gantt.css": "text/css; charset=utf-8",
    "gantt-scale.json": "application/json",
}


@cache
def _asset(name: str) -> bytes:
    return importlib.resources.files("app").joinpath("ui", name).read_bytes()


@cache
def examples() -> dict[str, bytes]:
    """The bundled batches (``app/data/*.json``) by name (file name without ``.json``)."""
    folder = importlib.resources.files("app.data")
    return {p.name.removesuffix(".json"): p.read_bytes()
            for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.name.endswith(".json")}


@router.get("/ui")
async def page() -> Response:
    return Response(_asset("index.html"), media_type=ASSETS["index.html"], headers=HEADERS)


@router.get("/ui/")
async def page_slash() -> Response:
    return RedirectResponse("/ui", headers=HEADERS)


@router.get("/ui/examples")
async def example_list() -> Response:
    return Response(dumps({"examples": sorted(examples())}), media_type="application/json", headers=HEADERS)


@router.get("/ui/examples/{name}")
async def example(name: str) -> Response:
    body = examples().get(name.removesuffix(".json"))
    if body is None:
        raise ApiError("not_found", f"no bundled example {name!r}; GET /ui/examples lists them")
    return Response(body, media_type="application/json", headers=HEADERS)


@router.get("/ui/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS or name == "index.html":
        raise ApiError("not_found", f"no page file {name!r}")
    return Response(_asset(name), media_type=ASSETS[name], headers=HEADERS)
