"""The API tests' fixtures (an in-process client, a real server) for the page's tests."""

from tests.api.conftest import client, make_client  # noqa: F401
