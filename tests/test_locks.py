"""The lock files install on every Python the project supports (pyproject's requires-python):
each pin has a wheel for each of those versions on Linux x86-64. scripts/venv.sh installs
them hash-checked; this checks the resolution quickly (uv, metadata only) for the versions
this machine may not have."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ("requirements.lock", "requirements-dev.lock")
#: what a failure to reach the package index looks like (then the check is skipped)
OFFLINE = re.compile(r"dns error|failed to connect|connection refused|timed out|network is unreachable|"
                     r"could not connect|failed to fetch", re.I)


def supported_versions() -> list[str]:
    """Every 3.x minor version that pyproject's ``>=3.a,<3.b`` allows."""
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    low = int(re.search(r">=\s*3\.(\d+)", spec).group(1))
    high = int(re.search(r"<\s*3\.(\d+)", spec).group(1))
    return [f"3.{v}" for v in range(low, high)]


VERSIONS = supported_versions()


def test_venv_script_picks_the_supported_versions():
    script = (ROOT / "scripts" / "venv.sh").read_text()
    assert re.search(r'^supported="([\d. ]+)"$', script, re.M).group(1).split() == VERSIONS
    assert all(f"python{v}" in script for v in VERSIONS)


def test_locks_are_universal_and_hashed():
    lock_sh = (ROOT / "scripts" / "lock.sh").read_text()
    assert lock_sh.count("--universal") == len(LOCKS) and lock_sh.count("--generate-hashes") == len(LOCKS)
    assert f"--python-version {VERSIONS[0]}" in lock_sh  # the lowest supported version
    for lock in LOCKS:
        text = (ROOT / lock).read_text()
        pins = re.findall(r"^([A-Za-z0-9_.-]+)==", text, re.M)
        assert pins and len(re.findall(r"^\s+--hash=sha256:", text, re.M)) >= len(pins)


_PIN = re.compile(r"^([A-Za-z0-9_.-]+==[^\s;\\]+)", re.M)


def pins(text: str) -> set[str]:
    return {p.lower() for p in _PIN.findall(text)}


def test_runtime_pins_are_the_dev_lock_pins():
    """The dev lock is constrained to the runtime lock: same versions, so checking the dev
    lock's resolution below checks the runtime lock's too."""
    runtime = pins((ROOT / "requirements.lock").read_text())
    assert runtime <= pins((ROOT / "requirements-dev.lock").read_text())


def _resolve(version: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "uv", "pip", "compile", "--no-deps", "--only-binary", ":all:",
           "--python-version", version, "--python-platform", "x86_64-manylinux_2_28",
           "--no-header", "--no-annotate", str(ROOT / "requirements-dev.lock")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def resolutions() -> dict[str, subprocess.CompletedProcess]:
    """The dev lock resolved for each supported version, the versions in parallel (each
    waits on the index, not the CPU)."""
    with ThreadPoolExecutor(len(VERSIONS)) as pool:
        return dict(zip(VERSIONS, pool.map(_resolve, VERSIONS), strict=True))


@pytest.mark.parametrize("version", VERSIONS)
def test_lock_resolves_for_each_supported_python(resolutions, version):
    r = resolutions[version]
    if r.returncode and OFFLINE.search(r.stderr):
        pytest.skip(f"the package index is not reachable: {r.stderr.strip()[-300:]}")
    assert r.returncode == 0, r.stderr
    # every pin whose markers apply on Linux with CPython `version` has a wheel there
    resolved = pins(r.stdout)
    assert resolved and resolved <= pins((ROOT / "requirements-dev.lock").read_text())


# ------------------------------------------------------------------------ scripts/venv.sh


def _fake_python(folder: Path, name: str, version: str) -> None:
    """A stand-in interpreter: reports ``version``, and records being asked to make the venv
    (then fails, so the script stops before installing anything)."""
    exe = folder / name
    exe.write_text(f"""#!/bin/sh
if [ "$1" = "-c" ]; then echo {version}; exit 0; fi
echo "{name} $*" > "{folder}/venv-made-by"; exit 1
""")
    exe.chmod(0o755)


def _run_venv_sh(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "scripts" / "venv.sh").write_text((ROOT / "scripts" / "venv.sh").read_text())
    return subprocess.run(["bash", str(repo / "scripts" / "venv.sh")], capture_output=True, text=True,
                          timeout=60, env=env)


def test_venv_script_takes_the_first_supported_python(tmp_path):
    fakes = tmp_path / "bin"
    fakes.mkdir()
    _fake_python(fakes, "python3.11", "3.10")  # a misnamed or broken one is passed over
    _fake_python(fakes, "python3.12", "3.12")
    r = _run_venv_sh(tmp_path, {"PATH": f"{fakes}:/usr/bin:/bin"})
    assert r.returncode != 0
    assert (fakes / "venv-made-by").read_text().split()[:3] == ["python3.12", "-m", "venv"]


def test_venv_script_refuses_an_unsupported_python(tmp_path):
    fakes = tmp_path / "bin"
    fakes.mkdir()
    _fake_python(fakes, "python3.10", "3.10")
    r = _run_venv_sh(tmp_path, {"PATH": f"{fakes}:/usr/bin:/bin", "PYTHON": str(fakes / "python3.10")})
    assert r.returncode == 2 and "supported: 3.11 3.12 3.13" in r.stderr
    assert not (fakes / "venv-made-by").exists()
