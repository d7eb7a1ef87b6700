"""The HTTP edge shared by every driver: one client, and one place that turns transport
failures into the error tree.

Every reply is redacted here, once, before a driver reads it (:func:`redact_response`): its body
and its ``Location`` lose every secret of the account in any encoding (see
:mod:`smscli.redact`), so no message, log line, ledger row or CSV made from it can hold one.

The distinction that matters for exactly-once is *did the request leave?*
- connection refused, connect timeout, pool timeout: it never left (:class:`NotSent`);
- read/write timeout, dropped connection, a 5xx, a body that does not decode as its
  ``Content-Encoding`` says (a broken proxy): it may have been processed
  (:class:`OutcomeUnknown`), never retried automatically;
- 429, or 503 with a usable ``Retry-After``: not processed (:class:`RateLimited`), the engine
  waits (see :func:`parse_retry_after` for what is usable, and the one-day cap).

Any other reply goes to the driver, which knows its provider's documented refusals; whatever
else a send gets back (a redirect, an HTML page of any status, a wording the docs do not list)
is :func:`unreadable`: in doubt, never ``failed``.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import re
import time
from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from smscli import __version__
from smscli.errors import NotSent, OutcomeUnknown, ProviderError, RateLimited
from smscli.redact import Redactor, excerpt

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("smscli.http")


class WireHooks(Protocol):
    def sent(self) -> None:
        """The request's body has just been written to the socket."""

    def replied(self) -> None:
        """The reply's headers have just been read."""


on_wire: ContextVar[WireHooks | None] = ContextVar("smscli_on_wire", default=None)
"""Hooks called in the sending thread as its request goes out and its reply comes in (the bulk
engine moves the request's rate-limit permit with them)."""


_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_QUOTE = str.maketrans(
    {chr(b): chr(b) if b in _SAFE else "+" if b == 0x20 else f"%{b:02X}" for b in range(256)}
)


def form_encode(fields: Sequence[tuple[str, str]]) -> bytes:
    """``urllib.parse.urlencode(fields).encode()``, byte for byte (UTF-8, ``+`` for a space),
    with one C-level pass per value instead of a Python call per byte: a bulk request carries
    hundreds of texts."""

    def quote(text: str) -> str:
        return text.encode("utf-8").decode("latin-1").translate(_FORM_QUOTE)

    return "&".join(f"{quote(k)}={quote(v)}" for k, v in fields).encode("ascii")


def make_client(timeout: float, redactor: Redactor, *, debug: bool = False) -> httpx.Client:
    """One keep-alive client for a whole command. TLS is always verified."""
    import httpx

    hooks: dict[str, list[Any]] = {}
    if debug:

        def on_request(request: httpx.Request) -> None:
            body = request.content.decode("utf-8", "replace") if request.content else ""
            log.debug("→ %s %s %s", request.method, redactor(str(request.url)), redactor(body))

        hooks = {"request": [on_request]}  # the reply is logged once redacted, by request()
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        verify=True,
        follow_redirects=False,
        headers={"User-Agent": f"smscli/{__version__}"},
        event_hooks=hooks,
    )


MAX_RETRY_AFTER = 86400.0
"""The longest wait a ``Retry-After`` can impose: one day."""

_DELTA_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), at most
    :data:`MAX_RETRY_AFTER` (a day); None when there is none or it is not usable.

    Hostile or broken values never become an endless block of the account (kept in the ledger
    for every process): anything but digits (with an optional fraction) or an HTTP date, so
    ``inf``, ``nan``, ``-5``, ``1e400`` and garbage, is as if absent (the caller's own back-off;
    a 503 without it is in doubt, not a rate limit). Any longer wait, a huge number
    (``99999999999999``) or a date centuries away, is one day; a date in the past is 0."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        seconds = float(value)  # digits only: finite, or inf for hundreds of them
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = max(0.0, when.timestamp() - (time.time() if now is None else now))
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    return min(seconds, MAX_RETRY_AFTER)


def request(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    provider: str,
    redactor: Redactor,
    read_only: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request and classify what can go wrong on the way.

    Returns every response that is not a rate limit or a 5xx, redacted by ``redactor``
    (:func:`redact_response`); the driver reads it.
    Exceptions are raised ``from None``: httpx's own texts and chains can carry the URL,
    and with it a key. A ``read_only`` call (balance, report, header list) changes nothing
    at the provider, so a lost reply leaves nothing in doubt: a plain provider error.
    """
    try:
        return _request(client, method, url, provider=provider, redactor=redactor, **kwargs)
    except OutcomeUnknown as exc:
        if not read_only:
            raise
        said = exc.message.removesuffix("; the provider may have taken it")
        raise ProviderError(
            f"{said}; the call changes nothing at {provider}, so asking again is safe"
        ) from None


def _request(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    provider: str,
    redactor: Redactor,
    **kwargs: Any,
) -> httpx.Response:
    import httpx

    hooks = on_wire.get()
    if hooks is not None:

        def trace(event: str, info: object) -> None:
            if event.endswith(".send_request_body.complete"):
                hooks.sent()
            elif event.endswith(".receive_response_headers.complete"):
                hooks.replied()

        kwargs["extensions"] = {**kwargs.get("extensions", {}), "trace": trace}
    try:
        response = client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise NotSent(
            f"{provider}: could not connect ({type(exc).__name__}: {redactor(str(exc))}); "
            "nothing was sent"
        ) from None
    except httpx.TimeoutException as exc:
        raise OutcomeUnknown(
            f"{provider}: no reply within the timeout ({type(exc).__name__}) after the request "
            "was sent; the provider may have taken it"
        ) from None
    except httpx.TransportError as exc:
        raise OutcomeUnknown(
            f"{provider}: connection lost after the request was sent "
            f"({type(exc).__name__}: {redactor(str(exc))}); the provider may have taken it"
        ) from None
    except httpx.DecodingError as exc:
        raise OutcomeUnknown(
            f"{provider}: the reply could not be decoded (its body does not match its "
            f"Content-Encoding: {redactor(str(exc))}) after the request was sent; the provider "
            "may have taken it"
        ) from None
    response = redact_response(response, redactor)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("← %s %s", response.status_code, excerpt(response.text, limit=500))
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if response.status_code == 429 or (response.status_code == 503 and retry_after is not None):
        raise RateLimited(
            f"{provider}: rate limited (HTTP {response.status_code})", retry_after=retry_after
        )
    if response.status_code >= 500:
        raise OutcomeUnknown(
            f"{provider}: HTTP {response.status_code} after the request was sent: "
            f"{excerpt(response.text)}"
        )
    return response


_REBUILT = frozenset({"content-length", "content-encoding", "transfer-encoding"})


def redact_response(response: httpx.Response, redactor: Redactor) -> httpx.Response:
    """``response`` with every secret gone from its body and (a 3xx) its ``Location``: itself
    when it held none, else a new response with the same status, headers and request whose
    body is the redacted text in UTF-8 (so ``.text``, ``.content``, ``.json()`` and
    :func:`json_body` agree).

    The body is read as UTF-8 when it is (what a driver parses), else as httpx decodes it."""
    content = response.content
    if content.isascii():
        text = content.decode("ascii")
    else:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            text = response.text
    body = redactor.reply(text)
    location = response.headers.get("Location", "") if 300 <= response.status_code < 400 else ""
    moved = redactor(location) if location else location
    if body is text and moved == location:
        return response
    import httpx

    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _REBUILT]
    if moved != location:
        headers = [(k, moved if k.lower() == "location" else v) for k, v in headers]
    redacted = httpx.Response(
        response.status_code,
        headers=headers,
        content=body.encode("utf-8"),
        request=response.request,
        extensions=response.extensions,
        history=response.history,
    )
    redacted.encoding = "utf-8"
    with contextlib.suppress(RuntimeError):  # a response built by hand has no elapsed time
        redacted.elapsed = response.elapsed
    return redacted


def json_body(response: httpx.Response) -> Any:
    """The reply as JSON, or None when it is not JSON."""
    import json

    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def unreadable(provider: str, response: httpx.Response) -> OutcomeUnknown:
    """The error for a reply to a send that the docs do not describe (a redirect, an HTML page
    of any status, an empty body, JSON of another shape), after the request left.

    Whatever its status, the provider may have taken the messages: a PHP script that did its
    work and then redirected (POST/redirect/GET), or a proxy's or framework's error page after
    the application ran. So their outcome is unknown, never ``failed`` (which ``--retry-failed``
    would send again). Only a provider's documented refusals, read by its driver, and a 429 or
    503 with ``Retry-After`` (:func:`request`) say a request was not processed. A call that
    sends nothing (balance, report, header list) makes its own plain provider error instead.
    """
    status = f"HTTP {response.status_code}"
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location")
        status += f" redirect{f' to {excerpt(location)}' if location else ''}, not followed"
    return OutcomeUnknown(
        f"{provider}: unexpected reply ({status}): {excerpt(response.text)}; the provider may "
        "have taken the messages"
    )
