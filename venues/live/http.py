"""Plain JSON GETs for the venue's public read APIs (Gamma, the Data API).

The CLOB itself goes through py-clob-client-v2 (venues/live/clob.py). These read-only services
need no signing, so a stdlib GET with a timeout is all they take. Failures come back as the
typed venue errors, so callers retry and report them like any other venue answer.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from venues.errors import ServerError, VenueTimeout, classify

__all__ = ["get_json"]

_HEADERS = {"Accept": "application/json", "User-Agent": "polyactor"}


def get_json(
    base_url: str,
    path: str,
    params: Mapping[str, str] | None = None,
    *,
    timeout_s: float,
    missing_is_none: bool = False,
) -> object:
    """GET `base_url + path` with `params`; the decoded JSON body, or a `VenueError`.
    With `missing_is_none`, a 404 (nothing there yet) is None rather than an error.

    A transport failure or a timeout is `VenueTimeout` (retry: a read has no effect); an HTTP
    error status is classified from its body, as the CLOB's are; a body that is not JSON is a
    `ServerError` (a proxy's error page, say), also worth retrying."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    url = f"{base_url.rstrip('/')}{path}{query}"
    request = urllib.request.Request(url, headers=_HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        if error.code == 404 and missing_is_none:
            return None
        text = error.read().decode("utf-8", "replace")
        raise classify(error.code, f"GET {path}: {_error_text(text)}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise VenueTimeout(rule="timeout", value=url, detail=f"GET {path}: {error}") from None
    try:
        return json.loads(body)
    except ValueError:
        msg = f"GET {path}: the answer is not JSON: {body[:120]!r}"
        raise ServerError(rule="malformed_answer", value=url, detail=msg) from None


def _error_text(text: str) -> str:
    try:
        decoded = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(decoded, dict):
        for key in ("error", "errorMsg", "message"):
            if isinstance(decoded.get(key), str):
                return str(decoded[key])
    return text[:300]
