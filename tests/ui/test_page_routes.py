"""The page's routes (in-process): the static files, their headers, the bundled examples, and
the API key rules unchanged around them. Plus static checks of the page's source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.api import ui
from tests.api.conftest import post, spec_request

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "app" / "ui"


@pytest.mark.parametrize("path, media", [("/ui", "text/html"), ("/ui/gantt.js", "text/javascript"),
                                         ("/ui/gantt.css", "text/css"), ("/ui/gantt-scale.json", "application/json"),
                                         ("/ui/examples", "application/json")])
def test_page_files_and_their_headers(client, path, media):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(media)
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src", "img-src"):
        assert directives[name] == "'self'", name  # this origin only: no external host, no inline code
    assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'none'"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_page_files_are_the_package_files(client):
    for name in ("gantt.js", "gantt.css", "gantt-scale.json"):
        assert client.get(f"/ui/{name}").content == (UI / name).read_bytes()
    assert client.get("/ui").content == (UI / "index.html").read_bytes()


def test_examples_are_the_bundled_batches(client):
    names = client.get("/ui/examples").json()["examples"]
    assert names == sorted(p.stem for p in (ROOT / "app" / "data").glob("*.json")) and "example" in names
    assert client.get("/ui/examples/example").content == (ROOT / "app" / "data" / "example.json").read_bytes()
    assert client.get("/ui/examples/example.json").status_code == 200


@pytest.mark.parametrize("path", ["/ui/nope.js", "/ui/examples/nope", "/ui/examples/..%2F..%2Fmain.py",
                                  "/ui/..%2Fmain.py", "/ui/index.html", "/ui/__init__.py"])
def test_other_paths_are_404_with_the_error_body(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_api_keys_still_guard_the_schedule_not_the_page(make_client):
    c = make_client(api_keys=("k-1",))
    assert c.get("/ui").status_code == 200 and c.get("/ui/examples/example").status_code == 200
    assert post(c, spec_request()).status_code == 401
    assert post(c, spec_request(), headers={"authorization": "Bearer k-1"}).status_code == 200


def test_the_page_is_not_in_the_openapi_document_but_linked_from_its_description(client):
    doc = client.get("/openapi.json").json()
    assert not [p for p in doc["paths"] if p.startswith("/ui")]
    assert "[/ui](/ui)" in doc["info"]["description"]


def test_page_source_loads_nothing_from_elsewhere_and_never_parses_markup():
    """The only absolute URL in the page is the SVG namespace (an identifier, never fetched);
    no inline script or style (the CSP would block it); ids are inserted as text: no
    innerHTML, outerHTML, insertAdjacentHTML, document.write or eval."""
    for path in UI.iterdir():
        text = path.read_text(encoding="utf-8")
        assert set(re.findall(r"\w+://[^\s\"')]*", text)) <= {"http://www.w3.org/2000/svg"}, path.name
        assert not re.search(r"""(src|href)=["']//""", text), path.name  # no protocol-relative URL
    js = (UI / "gantt.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, sink
    html = (UI / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/ui/gantt.js" defer>']
    assert "style=" not in html and "<style" not in html and not re.search(r"<[^>]*\son\w+=", html)


def test_the_scale_file_is_the_one_the_svg_writer_uses():
    from app import gantt

    assert json.loads((UI / "gantt-scale.json").read_text()) == gantt.SCALE
    assert ui.ASSETS["gantt-scale.json"] == "application/json"
