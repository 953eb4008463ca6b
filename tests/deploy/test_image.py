"""The image for real: the repository's Dockerfile, built by podman on a local Debian base, run
as a container (published on loopback only). Checked: /livez, a real POST /schedule of the
bundled example, the HEALTHCHECK turning the container healthy, every process running as the
unprivileged user, DSCT_* settings reaching the service, and SIGTERM to the container draining
an in-flight request before a clean exit."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.deploy import podman

# The first test's set-up builds the images: on a machine without the cache, the base image
# and the dependencies' layer take minutes (docs/deployment.md has the figures).
pytestmark = pytest.mark.timeout(1500)
EXAMPLE = (podman.REPO / "app" / "data" / "example.json").read_bytes()
API_KEY = "deploy-test-key"


@dataclass
class Container:
    name: str
    url: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 30) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_live(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    last: object = None
    while time.monotonic() < deadline:
        try:
            if http(url + "/livez", timeout=2)[0] == 200:
                return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    pytest.fail(f"the container did not answer /livez within {seconds} s: {last!r}")


def start(image: str, name: str, env: dict[str, str]) -> Container:
    port = free_port()
    args = ["run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000"]
    for k, v in env.items():
        args += ["-e", f"{k}={v}"]
    podman.podman(*args, image)
    return Container(name, f"http://127.0.0.1:{port}")


def remove(name: str) -> None:
    podman.podman("rm", "-f", "-t", "0", name, check=False)


@pytest.fixture(scope="module")
def container(project_image) -> Iterator[Container]:
    """The image with settings given as a user would: 3 workers, an API key."""
    name = f"dsct-test-{int(time.time())}"
    remove(name)
    started = time.monotonic()
    c = start(project_image, name, {"DSCT_WORKERS": "3", "DSCT_API_KEYS": API_KEY})
    try:
        wait_live(c.url)
        print(f"\ncontainer answered /livez {time.monotonic() - started:.1f} s after `podman run`")
        yield c
    finally:
        logs = podman.podman("logs", name, check=False)
        remove(name)
        print(logs.stdout[-2000:], logs.stderr[-2000:])


AUTH = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}


def test_livez_and_a_real_schedule(container):
    assert http(container.url + "/livez") == (200, b'{"status":"ok"}')
    status, body = http(container.url + "/schedule", EXAMPLE, AUTH)
    assert status == 200, body[:500]
    out = json.loads(body)
    example = json.loads(EXAMPLE)
    placed = {a["task_id"] for m in out["machines"] for a in m["assignments"]}
    unscheduled = {u["task_id"] for u in out["unscheduled"]}
    assert placed | unscheduled == {t["id"] for t in example["tasks"]}
    assert out["algorithm"] == example["algorithm"] and out["status"] == "ok"
    assert 0 < out["objective"]["total_accuracy"] <= out["objective"]["upper_bound"]
    assert http(container.url + "/readyz")[0] == 200


def test_settings_reach_the_service(container):
    """DSCT_API_KEYS: a request without the key is refused; DSCT_WORKERS=3: three workers."""
    status, body = http(container.url + "/schedule", EXAMPLE, {"Content-Type": "application/json"})
    assert status == 401, body[:300]
    assert json.loads(body)["error"]["code"] == "unauthorized"
    top = podman.podman("top", container.name, "pid", "ppid", "args").stdout.splitlines()[1:]
    rows = [line.split(None, 2) for line in top]
    supervisor = [r for r in rows if re.search(r"\bdsct serve\b", r[2])]
    assert len(supervisor) == 1, top
    workers = [r for r in rows if r[1] == supervisor[0][0] and "multiprocessing.spawn" in r[2]
               and "resource_tracker" not in r[2]]
    assert len(workers) == 3, top


def test_every_process_runs_as_the_unprivileged_user(container):
    info = podman.inspect(container.name)
    assert info["Config"]["User"] == "10001:10001"
    top = podman.podman("top", container.name, "huser", "user", "args").stdout.splitlines()[1:]
    assert top, "no process listed"
    for line in top:
        huser, user, _ = line.split(None, 2)
        assert (huser, user) == ("10001", "dsct"), line


def test_healthcheck_reports_healthy(container):
    """No systemd here, so the periodic check never fires on its own: run it as podman would."""
    proc = podman.podman("healthcheck", "run", container.name, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    state = podman.inspect(container.name)["State"]
    health = state.get("Health") or state.get("Healthcheck")
    assert health["Status"] == "healthy", health
    image = podman.inspect(podman.IMAGE, "image")
    assert image["Healthcheck"]["Test"][:2] == ["CMD", "python"], "the image lost its HEALTHCHECK"


def big_batch(n: int, m: int) -> bytes:
    """A batch that takes a noticeable time to parse and solve (deterministic)."""
    machines = [{"id": f"m{j}", "speed": 1.0 + j % 7 * 0.5, "available_at": 0.0} for j in range(m)]
    tasks = [{"id": f"t{i}", "deadline": 0.5 + i % 97 * 0.01, "theta": 10.0 + i % 13,
              "a_min": 0.001, "a_max": 0.8, "t_max": None} for i in range(n)]
    return json.dumps({"algorithm": "edf-nocompression", "machines": machines, "tasks": tasks}).encode()


def in_flight(url: str) -> float:
    text = http(url + "/metrics", timeout=5)[1].decode()
    match = re.search(r"^dsct_solves_in_flight (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_sigterm_drains_an_in_flight_request(project_image):
    """`podman kill --signal TERM` (what `podman stop` and Docker send first) while a large
    batch is being solved: the request completes with 200 and the container exits 0."""
    name = f"dsct-test-term-{int(time.time())}"
    remove(name)
    c = start(project_image, name, {"DSCT_WORKERS": "1"})
    try:
        wait_live(c.url)
        body = big_batch(100_000, 1_000)
        result: dict = {}

        def send() -> None:
            try:
                result["r"] = http(c.url + "/schedule", body, {"Content-Type": "application/json"},
                                   timeout=180)
            except Exception as exc:  # noqa: BLE001 (reported below)
                result["exc"] = exc

        t = threading.Thread(target=send, daemon=True)
        t.start()
        deadline = time.monotonic() + 60
        while in_flight(c.url) < 1:
            assert t.is_alive(), f"the large request ended before it was seen in flight: {result}"
            assert time.monotonic() < deadline, "the large request never showed as in flight"
            time.sleep(0.02)
        podman.podman("kill", "--signal", "TERM", name)
        t.join(180)
        assert "exc" not in result, result.get("exc")
        status, out = result["r"]
        assert status == 200, out[:300]
        solved = json.loads(out)
        assert sum(len(m["assignments"]) for m in solved["machines"]) + len(solved["unscheduled"]) == 100_000
        code = podman.podman("wait", name, timeout=120).stdout.strip()
        assert code == "0", podman.podman("logs", name, check=False).stderr[-2000:]
    finally:
        remove(name)
