"""JSON documents from the identity provider, fetched in a worker thread with hard limits.

The standard library's HTTP client runs in a thread (`asyncio.to_thread`) so a slow identity
provider never stalls the event loop, and the runtime needs no HTTP client dependency of its own.
Deliberately strict, because whatever these documents say decides whose signature is trusted:
- TLS is verified against the given CA bundle or the system's roots;
- no redirects (one could lead from https:// to a plaintext or foreign URL) and no proxy from the
  environment (HTTP_PROXY would silently route key fetches through a third party);
- one deadline for the whole exchange, so a server dripping bytes cannot hold a thread for long;
- a size cap, since a key set is a few kilobytes.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
import time
import urllib.error
import urllib.request
from typing import Any

from casedesk_runtime.oidc.errors import IdpUnavailable

MAX_DOCUMENT_BYTES = 1 << 20
_CHUNK = 64 * 1024


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verification against `ca_file`, or the system's roots when None."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"CA file {ca_file} cannot be used: {exc}") from None


def _fetch(url: str, context: ssl.SSLContext, timeout_s: float) -> bytes:
    deadline = time.monotonic() + timeout_s
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirects(),
        urllib.request.HTTPSHandler(context=context),
    )
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "casedesk-runtime"}
    )
    # The socket timeout bounds each blocking read; the deadline bounds their sum.
    with opener.open(request, timeout=timeout_s) as response:
        body = bytearray()
        while chunk := response.read1(_CHUNK):
            body += chunk
            if len(body) > MAX_DOCUMENT_BYTES:
                raise ValueError(f"larger than {MAX_DOCUMENT_BYTES} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError
    return bytes(body)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


async def fetch_json(
    url: str, *, what: str, context: ssl.SSLContext, timeout_s: float
) -> dict[str, Any]:
    """The JSON object at `url`; `what` names the document in the IdpUnavailable message."""
    try:
        body = await asyncio.wait_for(asyncio.to_thread(_fetch, url, context, timeout_s), timeout_s)
        document = json.loads(body)
    # URLError, HTTPError and TLS failures are OSErrors; HTTPException: a garbled response.
    except (OSError, ValueError, TimeoutError, http.client.HTTPException) as exc:
        reason = "not JSON" if isinstance(exc, json.JSONDecodeError) else _describe(exc)
        raise IdpUnavailable(f"{what} from {url} could not be fetched: {reason}") from None
    if not isinstance(document, dict):
        raise IdpUnavailable(f"{what} from {url} is not a JSON object")
    return document
