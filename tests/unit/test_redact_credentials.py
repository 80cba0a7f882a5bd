"""URL credentials leave the URL that is shown, and travel as the Basic auth header instead."""

from __future__ import annotations

import base64

import pytest

from stagecheck.redact import split_credentials

pytestmark = pytest.mark.unit


def test_credentials_become_a_header():
    plain, auth = split_credentials("http://bob:s%40cret@127.0.0.1:8000/v1?x=1")
    assert plain == "http://127.0.0.1:8000/v1?x=1"
    assert auth == "Basic " + base64.b64encode(b"bob:s@cret").decode()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "https://[::1]:9/x"])
def test_a_url_without_credentials_is_unchanged(url):
    assert split_credentials(url) == (url, None)
