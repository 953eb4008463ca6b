"""/docs works without internet: the page and every file it loads come from the service, and
the OpenAPI document declares the API keys so that "Try it out" can send one."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from app.api.routes import API_KEY_SCHEME

#: a URL in an HTML attribute or in the page's script (a quoted string that looks like a path
#: or an address)
_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""", re.I)
_ABSOLUTE = re.compile(r"""(?:https?:)?//[\w.-]+""", re.I)


def _references(html: str) -> list[str]:
    return [a or b for a, b in _URL.findall(html)]


@pytest.mark.parametrize("keys", ["", "secret"])
def test_docs_page_references_no_external_host(make_client, keys):
    c = make_client(api_keys=(keys,) if keys else ())
    r = c.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not _ABSOLUTE.findall(html), _ABSOLUTE.findall(html)  # no http://, https:// or //host
    refs = _references(html)
    scripts = [u for u in refs if u.endswith(".js")]
    styles = [u for u in refs if u.endswith(".css")]
    assert scripts and styles, refs
    for url in refs:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
        got = c.get(url)
        assert got.status_code == 200, (url, got.status_code)
        assert len(got.content) > 100, url
    assert any(c.get(u).text.count("SwaggerUIBundle") for u in scripts)  # Swagger UI itself


def test_openapi_declares_the_api_key_scheme(client):
    spec = client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"][API_KEY_SCHEME]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for path in ("/schedule", "/schedule/validate"):
        security = spec["paths"][path]["post"]["security"]
        # a key when the server has some, none otherwise
        assert {API_KEY_SCHEME: []} in security and {} in security
    for path in ("/livez", "/readyz", "/metrics"):
        assert "security" not in spec["paths"][path]["get"]
