"""A real container engine for the deployment tests: Debian's podman (with runc), on a base
image made locally from Debian's packages, since no image registry is reachable here.

Everything lives in its own storage under ``$DSCT_TEST_CACHE`` (default
``~/.cache/dsct-tests``), apart from any other podman use on the machine, and stays there
between runs: the base image is made once (mmdebstrap, about 2 minutes), and podman's layer
cache makes a rebuild of an unchanged project a matter of seconds.

What differs from a plain ``docker build`` on a developer's machine, and why:

- the base is ``mmdebstrap --variant=minbase`` of Debian bookworm with python3, python3-venv and
  ca-certificates, imported with ``podman import``: Debian's Python 3.11.2 instead of the pinned
  ``python:3.11-slim`` image, passed as ``--build-arg PYTHON_IMAGE``; the Dockerfile is unchanged;
- ``--format docker`` keeps the HEALTHCHECK (the OCI image format has no such field);
- ``runtime = "runc"``: crun refuses this host's mixed cgroup v1/v2 layout;
- ``default_ulimits``: podman's default raises the hard nofile/nproc limits, which this host
  does not permit;
- pip inside the build trusts the host's CA bundle (bind-mounted with a ``pip.conf`` naming
  it, at build time only: nothing of it is in the image);
- no systemd, so healthchecks never run on their own: the tests call ``podman healthcheck run``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("DSCT_TEST_CACHE") or Path.home() / ".cache" / "dsct-tests")
BASE_IMAGE = "localhost/dsct-test-base:bookworm"
IMAGE = "localhost/dsct:test"
PROMETHEUS_IMAGE = "localhost/dsct-test-prometheus:debian"
PROXY_IMAGE = "localhost/dsct-test-nginx:debian"
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_backend = "netavark"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


class EngineUnavailable(Exception):
    """The engine cannot run on this machine; the message says why (the tests skip with it)."""


@dataclass(frozen=True)
class Timings:
    base_seconds: float  # 0 when the cached base image was used
    build_seconds: float


def env() -> dict[str, str]:
    """The environment for every podman and podman-compose call: our own configuration and
    storage, so that nothing touches (or is touched by) other podman users of the machine."""
    conf_dir = CACHE / "podman"
    return {
        **os.environ,
        "CONTAINERS_CONF": str(conf_dir / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(conf_dir / "storage.conf"),
    }


def podman(*args: str, check: bool = True, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(["podman", *args], env=env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def missing_tools() -> list[str]:
    # netavark sets container networks up with iptables: without it every build step fails
    tools = [t for t in ("podman", "runc", "mmdebstrap", "iptables")
             if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]
    return tools + [t for t in ("netavark", "aardvark-dns")
                    if shutil.which(t) is None and not Path("/usr/lib/podman", t).exists()]


def prepare() -> None:
    """Write the configuration; raise EngineUnavailable where podman cannot run here."""
    missing = missing_tools()
    if missing:
        raise EngineUnavailable(f"{', '.join(missing)} not installed (Debian's podman, runc, netavark, "
                                "aardvark-dns and mmdebstrap; scripts/test installs them as root)")
    if os.geteuid() != 0:
        raise EngineUnavailable("the container tests run podman as root (rootless podman needs "
                                "subordinate ids set up by hand); scripts/test runs as root in CI")
    conf_dir = CACHE / "podman"
    conf_dir.mkdir(parents=True, exist_ok=True)
    # run-time state (locks, mounts) of this storage only: one per cache folder
    digest = hashlib.sha256(str(conf_dir.resolve()).encode()).hexdigest()[:12]
    (conf_dir / "containers.conf").write_text(CONTAINERS_CONF)
    (conf_dir / "storage.conf").write_text(
        '[storage]\ndriver = "overlay"\n'
        f'graphroot = "{conf_dir / "storage"}"\n'
        f'runroot = "/run/dsct-tests-podman-{digest}"\n'
    )
    probe = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=120)
    if probe.returncode != 0:
        raise EngineUnavailable(f"podman info failed: {probe.stderr.strip()[-500:]}")


def image_exists(ref: str) -> bool:
    return podman("image", "exists", ref, check=False).returncode == 0


def debian_sources() -> list[str]:
    """The Debian mirrors apt is configured with, as mmdebstrap arguments (files it copies)."""
    found = [str(p) for p in sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
             if "debian" in p.read_text()]
    if not found and Path("/etc/apt/sources.list").exists():
        found = ["/etc/apt/sources.list"]
    return found or ["http://deb.debian.org/debian"]


def ensure_base() -> float:
    """The local base image (Debian bookworm's Python); made only if the cache lacks it.
    Returns the seconds spent (0 when cached)."""
    if image_exists(BASE_IMAGE):
        return 0.0
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dsct-rootfs-", dir=CACHE) as tmp:
        tar = Path(tmp) / "rootfs.tar"
        proc = subprocess.run(
            ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={BASE_PACKAGES}",
             "bookworm", str(tar), *debian_sources()],
            capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise AssertionError(f"mmdebstrap failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        podman("import", "--change", 'CMD ["python3"]', str(tar), BASE_IMAGE)
    return time.monotonic() - start


def build(tag: str, context: Path, containerfile: Path | None = None,
          build_args: dict[str, str] | None = None) -> float:
    """``podman build --format docker`` with the host's CA bundle trusted by pip (build time
    only). Returns the seconds spent."""
    start = time.monotonic()
    old = podman("image", "inspect", "--format", "{{.Id}}", tag, check=False).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="dsct-build-") as tmp:
        pip_conf = Path(tmp) / "pip.conf"
        args = ["build", "--format", "docker", "--pull=never", "-t", tag]
        if HOST_CA.exists():
            pip_conf.write_text("[global]\ncert = /etc/ssl/certs/dsct-build-ca.crt\n")
            args += ["-v", f"{HOST_CA}:/etc/ssl/certs/dsct-build-ca.crt:ro",
                     "-v", f"{pip_conf}:/etc/pip.conf:ro"]
        for k, v in (build_args or {}).items():
            args += ["--build-arg", f"{k}={v}"]
        if containerfile is not None:
            args += ["-f", str(containerfile)]
        podman(*args, str(context), timeout=1200)
    # the previous image of this tag is now untagged: drop it, but not the dangling build
    # stages (`image prune` would), which hold the layer cache of the dependencies
    if old and old != podman("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip():
        podman("rmi", old, check=False)
    return time.monotonic() - start


def build_project_image() -> Timings:
    """The repository's own Dockerfile, unchanged, on the local base."""
    base = ensure_base()
    seconds = build(IMAGE, REPO, build_args={"PYTHON_IMAGE": BASE_IMAGE})
    return Timings(base, seconds)


def inspect(ref: str, kind: str = "container") -> dict:
    out = podman(kind, "inspect", ref).stdout
    return json.loads(out)[0]


def image_size_mb(ref: str) -> float:
    return inspect(ref, "image")["Size"] / 1e6


def build_stand_ins() -> float:
    """Local stand-ins for the compose stack's pinned third-party images: Debian's prometheus
    binary and Debian's nginx-light on the local base. Returns the seconds spent."""
    ensure_base()
    images = REPO / "tests" / "deploy" / "images"
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dsct-prometheus-") as tmp:
        prometheus = shutil.which("prometheus")
        if prometheus is None:
            raise EngineUnavailable("Debian's prometheus is not installed (scripts/test installs it)")
        shutil.copy2(prometheus, Path(tmp) / "prometheus")
        build(PROMETHEUS_IMAGE, Path(tmp), images / "prometheus.Containerfile",
              {"BASE_IMAGE": BASE_IMAGE})
    with tempfile.TemporaryDirectory(prefix="dsct-nginx-") as tmp:
        build(PROXY_IMAGE, Path(tmp), images / "nginx.Containerfile", {"BASE_IMAGE": BASE_IMAGE})
    return time.monotonic() - start
