"""API keys (DSCT_API_KEYS): the scheduling endpoints need one, the operations endpoints do not."""

from __future__ import annotations

from .conftest import post, spec_request


def test_api_keys(make_client):
    c = make_client(api_keys=("k1-secret", "k2-secret"))
    for path in ("/schedule", "/schedule/validate"):
        r = post(c, spec_request(), path)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")
        for bad in ("Bearer nope", "Basic k1-secret", "k1-secret", "Bearer k1-secret-x", "Bearer "):
            assert post(c, spec_request(), path, headers={"authorization": bad}).status_code == 401, bad
        for good in ("Bearer k1-secret", "Bearer k2-secret", "bearer k2-secret"):
            assert post(c, spec_request(), path, headers={"authorization": good}).status_code == 200, good
    # checked before the body: a wrong key with a bad body is still 401
    assert post(c, b"{", headers={"authorization": "Bearer x"}).status_code == 401
    for path in ("/livez", "/readyz", "/metrics"):
        assert c.get(path).status_code == 200
