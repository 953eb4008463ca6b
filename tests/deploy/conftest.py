"""The container images of the deployment tests, built once per session by a real engine
(tests/deploy/podman.py says how and why it differs from a plain ``docker build``)."""

from __future__ import annotations

import pytest

from tests.deploy import podman


@pytest.fixture(scope="session")
def engine() -> None:
    try:
        podman.prepare()
    except podman.EngineUnavailable as exc:
        pytest.skip(f"no container engine: {exc}")


@pytest.fixture(scope="session")
def project_image(engine) -> str:
    """The repository's Dockerfile, unchanged, built on the local Debian base."""
    timings = podman.build_project_image()
    print(f"\nimage {podman.IMAGE}: base {timings.base_seconds:.0f} s (0: cached), "
          f"build {timings.build_seconds:.0f} s, {podman.image_size_mb(podman.IMAGE):.0f} MB")
    return podman.IMAGE
