"""Settings from the environment (app/settings.py), and the README's settings table."""

from __future__ import annotations

import pytest

from app.settings import SettingsError, from_env

from .api.conftest import ROOT


def test_api_keys_from_env():
    s = from_env({"DSCT_API_KEYS": " a , b,, "})
    assert s.api_keys == ("a", "b")
    assert from_env({}).api_keys == ()


def test_invalid_settings_fail_clearly():
    with pytest.raises(SettingsError, match="DSCT_WORKERS"):
        from_env({"DSCT_WORKERS": "zero"})
    with pytest.raises(SettingsError, match="DSCT_SOLVE_TIMEOUT"):
        from_env({"DSCT_SOLVE_TIMEOUT": "-1"})
    with pytest.raises(SettingsError, match="DSCT_LOG_LEVEL"):
        from_env({"DSCT_LOG_LEVEL": "loud"})
    s = from_env({})
    assert (s.host, s.port, s.workers) == ("127.0.0.1", 8000, 2)


def test_readme_lists_every_setting():
    from app.settings import PREFIX, Settings

    readme = (ROOT / "README.md").read_text()
    for name, info in Settings.model_fields.items():
        if name == "bench_routes":  # benchmark-only, documented in docs/robustness.md
            continue
        var = PREFIX + name.upper()
        assert f"`{var}`" in readme, var
        default = info.default
        if isinstance(default, int | float) and not isinstance(default, bool):
            row = next(line for line in readme.splitlines() if line.startswith(f"| `{var}`"))
            assert f"`{default:g}`" in row or f"`{default}`" in row, (var, row)
