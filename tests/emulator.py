"""A local emulator of the three SMS providers, for integration, CLI and benchmark tests.

It speaks each provider's *documented* wire format (``/work/shared/providers``) strictly, keeps
what "phones" received, and injects faults so that exactly-once handling can be proven::

    with Emulator() as emu:
        profile.base_url = emu.base_url("masgsm")
        ...
        assert emu.received_by("5321112233")[0].text == "hello"
        assert emu.duplicates() == {}

Behaviour the provider docs leave open, chosen here (each marked "undocumented" below):

- customersms: errors other than ``INVALID_API_KEY`` and their HTTP statuses are ours
  (``MISSING_PARAMETERS`` 400, ``INVALID_PARAMETERS`` 400, ``INVALID_JSON`` 400,
  ``INSUFFICIENT_CREDITS`` 402). The status of ``INVALID_API_KEY`` is
  ``emu.customersms_error_status`` (401 by default; set 200 to model a 200-with-error provider).
  Credits are all-or-nothing per request.
- vairosms: ``dest`` is accepted as ``905xxxxxxxxx`` (what the error page asks for) and as
  ``5xxxxxxxxx`` (what the samples show). Short credit → 400 ``"Yetersiz kredi"``. A request is
  all-or-nothing. There is no per-number failure in the reply, so numbers in
  ``emu.reject_numbers`` are charged, answered with success and simply not delivered (their
  report says ``NOT_DELIVERED``). ``emu.pending_numbers`` report ``WAITING`` and make
  ``paket_durum`` 0. ``emu.vairosms_words`` (E.164 → text) answers ``durum_gonderim`` with any
  text, for values the stored docs cut off.
- masgsm: the send reply is JSON ``{"code", "message", "id"}`` (or ``"1 <id>"`` with
  ``masgsm_reply="plain"``), always HTTP 200 and ``Content-Type: text/html`` like a bare PHP
  script. The form body is parsed like PHP fills ``$_POST`` (a non-urlencoded body gives an empty
  ``$_POST``). Numbers in ``reject_numbers`` are charged and not delivered (report: ``Hatali``).
- masgsm's legacy header list (``POST {root}/`` with ``apiNo=3``, known from third-party code
  only) answers a JSON array of ``emu.headers["masgsm"]``; ``emu.masgsm_legacy_down = True``
  makes it a 404 HTML page, as when the old API has been switched off.
- ``received`` holds what the provider accepted for delivery. ``undelivered_numbers`` and
  ``pending_numbers`` only change delivery reports; ``reject_numbers`` are never received.
- 1 credit per recipient, whatever the length.
- ``emu.answer(provider, body, ...)`` scripts the reply to the next call of a provider (a send,
  balance, report or header list alike) with any body: undocumented codes, other wordings, a
  BOM, ``"nan"``, an HTML page. A send is processed first unless ``process=False`` (a refusal).
- ``emu.echo(provider, body, ...)`` scripts the next reply like ``answer`` with a body (and
  ``headers``) computed from the request: a hostile provider quoting what it received, e.g.
  ``emu.echo("vairosms", lambda r: "?return=" + quote(r.target, safe=""), status=302)``.
  ``RecordedRequest.target`` is the request target (path and query) exactly as received.

Faults (``emu.inject``) apply only to send requests (``302-after-processing`` redirects after
taking the send; ``bad-gzip-after-processing`` takes it and answers its usual body labelled
``Content-Encoding: gzip``, as a broken proxy does: ``echo`` with that header does the same to
any call); rate limiting applies to every request of
a provider and is checked on arrival, before ``latency`` and before any fault is taken from the
queue (a rate-limited request does not consume a fault). ``hold_before_counting`` makes chosen
requests wait before they are counted, as behind a queue in front of a provider's counter.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, unquote, unquote_to_bytes, urlsplit

PROVIDERS = ("customersms", "vairosms", "masgsm")

_ROOTS = {
    "customersms": "/customersms",
    "vairosms": "/vairosms/Panel/api/v1",
    "masgsm": "/masgsm/MasApiV2",
}

FAULTS = frozenset(
    {
        "500",
        "502-html",
        "503-retry-after",
        "429",
        "html-200",
        "empty-200",
        "timeout-after-processing",
        "drop-after-processing",
        "drop-before-processing",
        "html-404",
        "500-after-processing",
        "302-after-processing",
        "bad-gzip-after-processing",
    }
)
_PROCESSED_FAULTS = frozenset(
    {
        "html-200",
        "empty-200",
        "timeout-after-processing",
        "drop-after-processing",
        "500-after-processing",
        "302-after-processing",
        "bad-gzip-after-processing",
    }
)

DEFAULT_CREDITS = 1_000_000

_HTML = "text/html; charset=UTF-8"
_JSON = "application/json"
_PHP_TEXT = "text/html; charset=UTF-8"  # a bare PHP script's default content type

_E164 = re.compile(r"\+[0-9]{8,15}")
_DIGITS = re.compile(r"[0-9]{8,15}")
_VAIRO_DEST = re.compile(r"(?:90)?5[0-9]{9}")
_MAS_NUMBER = re.compile(r"5[0-9]{9}")
_PHP_INT_KEY = re.compile(r"0|-?[1-9][0-9]{0,18}")


def _nginx_page(status: int, reason: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


_CMS_PAGE = (
    b'<!DOCTYPE html>\n<html lang="tr"><head><meta charset="utf-8"><title>Bak\xc4\xb1m'
    b"</title></head>\n<body><h1>Sitemiz bak\xc4\xb1mdad\xc4\xb1r</h1>"
    b"<p>L\xc3\xbctfen daha sonra tekrar deneyiniz.</p></body></html>\n"
)


# --------------------------------------------------------------------------------------------
# Public records


@dataclass(frozen=True)
class Received:
    """One message delivered to a phone."""

    provider: str
    to: str  # E.164, "+905321112233"
    text: str
    sender: str | None
    turkish: bool
    message_id: str
    batch_id: str | None


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the emulator received it."""

    method: str
    path: str  # URL path, percent-decoded, without the query string
    query: dict[str, str]  # last value wins
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    provider: str | None
    form: dict[str, Any] | None = None  # masgsm: the body parsed like PHP's $_POST
    time: float = 0.0
    target: str = ""  # path and query exactly as received (still percent-encoded)


# --------------------------------------------------------------------------------------------
# Helpers


def normalize_number(number: str) -> str:
    """E.164 from the forms tests use: +90…, 0090…, 90…, 0…, or the 10-digit 5… form."""
    raw = number.strip()
    digits = re.sub(r"[^0-9]", "", raw)
    if raw.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if len(digits) == 10 and digits.startswith("5"):
        return "+90" + digits
    if len(digits) == 11 and digits.startswith("05"):
        return "+90" + digits[1:]
    return "+" + digits


class _PhpArray(dict[str, Any]):
    """A PHP array: ordered, string keys (PHP's integer keys kept in canonical decimal form)."""

    def __init__(self) -> None:
        super().__init__()
        self.next_index = 0

    def key_for(self, key: str | None) -> str:
        if key is None:  # "name[]"
            key = str(self.next_index)
        if _PHP_INT_KEY.fullmatch(key):
            self.next_index = max(self.next_index, int(key) + 1)
        return key

    def child(self, key: str | None) -> _PhpArray:
        key = self.key_for(key)
        existing = self.get(key)
        if isinstance(existing, _PhpArray):
            return existing
        new = _PhpArray()
        self[key] = new
        return new


def _php_register(top: _PhpArray, name: str, value: str) -> None:
    """Store one ``name=value`` pair the way ``php_register_variable_ex`` does."""
    name = name.lstrip(" ")
    bracket = name.find("[")
    base = name if bracket < 0 else name[:bracket]
    segments: list[str | None] = []
    if bracket >= 0:
        rest, pos = name[bracket:], 0
        while pos < len(rest) and rest[pos] == "[":
            close = rest.find("]", pos + 1)
            if close < 0:
                if not segments:  # "a[b" is the plain variable "a_b"
                    base = base + "_" + rest[pos + 1 :].replace("[", "_")
                break
            index = rest[pos + 1 : close].lstrip(" \t\r\n")
            segments.append(index if index else None)
            pos = close + 1  # anything after the last "]" that is not "[" is ignored
    base = base.replace(" ", "_").replace(".", "_")
    if not base:
        return
    if not segments:
        top[base] = value  # a repeated plain name: the last one wins
        return
    current = top.child(base)
    for segment in segments[:-1]:
        current = current.child(segment)
    current[current.key_for(segments[-1])] = value


def parse_php_form(body: bytes, *, max_input_vars: int | None = None) -> dict[str, Any]:
    """Parse an ``application/x-www-form-urlencoded`` body like PHP fills ``$_POST``.

    ``a[0]=x&a[1]=y`` and ``a[]=x&a[]=y`` give arrays (returned as lists when their keys are
    0..n-1 in order, else dicts); a repeated plain ``a=x&a=y`` keeps only the LAST value.
    """
    top = _PhpArray()
    count = 0
    for part in body.split(b"&"):
        if not part:
            continue
        if max_input_vars is not None and count >= max_input_vars:
            break  # PHP drops the rest with a warning ("Input variables exceeded")
        count += 1
        raw_name, _, raw_value = part.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("utf-8", "replace")
        value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8", "replace")
        _php_register(top, name, value)
    result = _php_to_python(top)
    assert isinstance(result, dict)
    return result


def _php_to_python(value: Any) -> Any:
    if not isinstance(value, _PhpArray):
        return value
    keys = list(value)
    if keys and keys == [str(i) for i in range(len(keys))]:
        return [_php_to_python(v) for v in value.values()]
    return {k: _php_to_python(v) for k, v in value.items()}


def _php_list(value: Any) -> dict[int, Any] | None:
    """A PHP array as {int index: value}, or None when it is not an array."""
    if isinstance(value, list):
        return dict(enumerate(value))
    if isinstance(value, dict):
        return {int(k): v for k, v in value.items() if _PHP_INT_KEY.fullmatch(k)}
    return None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _sms_parts(text: str) -> int:
    return 1 if len(text) <= 160 else math.ceil(len(text) / 153)


def _now() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def _dumps(payload: Any) -> bytes:
    # PHP's json_encode / Laravel: compact, non-ASCII escaped as \\uXXXX.
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str | None = _JSON
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json_reply(status: int, payload: Any) -> _Reply:
    return _Reply(status, _dumps(payload))


def _html_reply(status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> _Reply:
    return _Reply(status, body, _HTML, headers or [])


def _retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


_Answer = _Reply | Callable[[RecordedRequest], _Reply]
"""A scripted reply: fixed, or computed from the request (``Emulator.echo``)."""


@dataclass
class _VairoEntry:
    record_id: int
    dest: str  # as the client sent it
    to: str  # E.164
    text: str
    rejected: bool


@dataclass
class _VairoSend:
    send_id: int
    header: str
    created_at: str
    entries: list[_VairoEntry]


@dataclass
class _MasSend:
    send_id: str
    numbers: list[str]  # E.164, every number charged (delivered or rejected)


# --------------------------------------------------------------------------------------------
# The HTTP server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True  # server_close() joins the handler threads
    request_queue_size = 1024  # benchmarks open many connections at once

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # the client went away (timeout, drop, stop): expected
            return
        self.emulator.errors.append("".join(traceback.format_exception(exc)))
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smscli-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    wbufsize = -1  # headers and body leave in one segment; flushed after every request
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.emulator._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._write(_html_reply(400, _nginx_page(400, "Bad Request")))
            return
        reply = self.server.emulator._serve(self.command, self.path, self.headers.items(), body)
        if reply is None:  # drop: close the socket without any HTTP reply
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._write(reply)

    def _write(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


# --------------------------------------------------------------------------------------------
# The emulator


class Emulator:
    """See the module docstring. Start with ``with Emulator() as emu:`` (or start()/stop())."""

    CUSTOMERSMS_KEY = "cs-test-key"
    VAIROSMS_KEY = "vs-test-key"
    MASGSM_USER = "5321112233"
    MASGSM_PASS = "mas-test-pass"
    MASGSM_FORBIDDEN_HEADER = "YASAK"

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate_limit_per_second: float | None = None,
        masgsm_reply: Literal["json", "plain"] = "json",
    ) -> None:
        self._initial = (latency, rate_limit_per_second, masgsm_reply)
        self.latency = latency
        self.rate_limit_per_second = rate_limit_per_second
        self.masgsm_reply: Literal["json", "plain"] = masgsm_reply
        self.customersms_error_status = 401  # HTTP status of INVALID_API_KEY (undocumented)
        # PHP's max_input_vars for masgsm (PHP's default is 1000); None = unlimited.
        self.masgsm_max_input_vars: int | None = None
        self.masgsm_legacy_down = False  # the legacy header list answers a 404 page
        self.headers: dict[str, list[str]] = {}
        self.reject_numbers: set[str] = set()  # E.164; never delivered
        self.undelivered_numbers: set[str] = set()  # E.164; delivery report says failed
        self.pending_numbers: set[str] = set()  # E.164; delivery report says pending
        self.vairosms_words: dict[str, str] = {}  # E.164 -> durum_gonderim, verbatim
        self.received: list[Received] = []
        self.requests: list[RecordedRequest] = []
        self.rate_limited = 0
        self.hold_before_counting: dict[int, float] = {}
        self.gate: threading.Event | None = None
        """While set to an Event that is not set, every request waits for it (up to 30 s)
        after it was recorded: a test holds a process with a request on the wire."""
        self.arrived = threading.Event()
        """Set when any request has been recorded."""
        """The n-th request since the last reset (from 1) waits this many seconds before it is
        counted and recorded: a queue in front of a provider's rate limiter."""
        self._arrivals = 0
        self.errors: list[str] = []  # unexpected exceptions inside the emulator (should stay empty)

        self._lock = threading.Lock()
        self._credits = dict.fromkeys(PROVIDERS, DEFAULT_CREDITS)
        self._faults: dict[str, deque[tuple[str, dict[str, float]]]] = {
            p: deque() for p in PROVIDERS
        }
        self._windows: dict[str, deque[float]] = {p: deque() for p in PROVIDERS}
        self._by_number: dict[str, list[Received]] = {}
        self._pairs: Counter[tuple[str, str]] = Counter()
        self._vairo_sends: dict[int, _VairoSend] = {}
        self._mas_sends: dict[str, _MasSend] = {}
        self._answers: dict[str, deque[tuple[_Answer, bool]]] = {p: deque() for p in PROVIDERS}
        self._seq = 1000
        self._generation = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._configure()

    def _configure(self) -> None:
        self.latency, self.rate_limit_per_second, self.masgsm_reply = self._initial
        self.customersms_error_status = 401
        self.masgsm_max_input_vars = None
        self.masgsm_legacy_down = False
        self.headers = {"vairosms": ["ACME", "TEST"], "masgsm": ["ACME", "TEST"]}
        self.reject_numbers.clear()
        self.undelivered_numbers.clear()
        self.pending_numbers.clear()
        self.vairosms_words.clear()

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Emulator:
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sms-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        with self._lock:
            self._stopping.set()  # wakes latency/timeout sleeps; new connections close at once
            connections = list(self._connections)
        server.shutdown()
        for conn in connections:  # unblock handlers waiting on idle keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()  # closes the listening socket and joins the handler threads
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            if not self._stopping.is_set():
                self._connections.add(conn)
                return
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def base_url(self, provider: str) -> str:
        return self.url + _ROOTS[self._check_provider(provider)]

    def profiles(self, extra: str = "") -> str:
        """A config file with a profile per provider (``cs``, ``vs``, ``mas``) pointed at this
        emulator with its credentials; the ``extra`` lines go into every profile."""
        return f"""
[profiles.cs]
provider = "customersms"
api_key = "{self.CUSTOMERSMS_KEY}"
base_url = "{self.base_url("customersms")}"
{extra}
[profiles.vs]
provider = "vairosms"
api_key = "{self.VAIROSMS_KEY}"
sender = "ACME"
base_url = "{self.base_url("vairosms")}"
{extra}
[profiles.mas]
provider = "masgsm"
username = "{self.MASGSM_USER}"
password = "{self.MASGSM_PASS}"
sender = "ACME"
base_url = "{self.base_url("masgsm")}"
{extra}
"""

    # -- configuration and inspection ---------------------------------------------------------

    @staticmethod
    def _check_provider(provider: str) -> str:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; expected one of {PROVIDERS}")
        return provider

    def set_credits(self, provider: str, credits: int) -> None:
        with self._lock:
            self._credits[self._check_provider(provider)] = credits

    def credits(self, provider: str) -> int:
        return self._credits[self._check_provider(provider)]

    def inject(self, provider: str, fault: str, *, times: int = 1, **params: float) -> None:
        """Queue ``fault`` for the next ``times`` send requests to ``provider`` (FIFO)."""
        self._check_provider(provider)
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults[provider].extend((fault, dict(params)) for _ in range(times))

    def answer(
        self,
        provider: str,
        body: str | bytes | dict[str, Any] | list[Any],
        *,
        status: int = 200,
        content_type: str | None = None,
        times: int = 1,
        process: bool = True,
    ) -> None:
        """Answer the next ``times`` calls to ``provider`` (sends, balance, reports, header
        lists alike) with ``body``: a dict or list as JSON, a str as UTF-8 text, bytes as they
        are. ``content_type`` defaults to JSON for a dict or list, else to a PHP page's
        ``text/html``. A send is processed as usual before the scripted answer replaces its
        reply (the provider took it and said something else), or with ``process=False`` not
        at all (a refusal). A scripted answer is taken before any injected fault."""
        self._check_provider(provider)
        if times < 1:
            raise ValueError("times must be >= 1")
        structured = isinstance(body, dict | list)
        if isinstance(body, dict | list):
            raw = _dumps(body)
        else:
            raw = body.encode() if isinstance(body, str) else body
        reply = _Reply(status, raw, content_type or (_JSON if structured else _PHP_TEXT))
        with self._lock:
            self._answers[provider].extend((reply, process) for _ in range(times))

    def echo(
        self,
        provider: str,
        body: Callable[[RecordedRequest], str | bytes],
        *,
        status: int = 200,
        headers: Callable[[RecordedRequest], list[tuple[str, str]]] | None = None,
        content_type: str | None = _PHP_TEXT,
        times: int = 1,
        process: bool = True,
    ) -> None:
        """Answer the next ``times`` calls to ``provider`` like :meth:`answer`, with a body
        (a str as UTF-8) and extra headers (e.g. a ``Location``) computed from the request:
        a provider that quotes back what it received, in any encoding."""
        self._check_provider(provider)
        if times < 1:
            raise ValueError("times must be >= 1")

        def reply(req: RecordedRequest) -> _Reply:
            raw = body(req)
            raw = raw.encode() if isinstance(raw, str) else raw
            return _Reply(status, raw, content_type, headers(req) if headers else [])

        with self._lock:
            self._answers[provider].extend((reply, process) for _ in range(times))

    def pending_faults(self, provider: str) -> list[str]:
        with self._lock:
            return [name for name, _ in self._faults[self._check_provider(provider)]]

    def received_by(self, number: str) -> list[Received]:
        with self._lock:
            return list(self._by_number.get(normalize_number(number), []))

    def duplicates(self) -> dict[str, int]:
        """E.164 number → the highest count among its texts received more than once."""
        with self._lock:
            result: dict[str, int] = {}
            for (to, _text), count in self._pairs.items():
                if count > 1:
                    result[to] = max(result.get(to, 0), count)
            return result

    def reset(self) -> None:
        """Back to the state right after construction, for a shared (session) emulator.

        Forgets received messages, requests, sends, queued faults and rate windows; restores
        credits and every setting (headers, number sets, ``customersms_error_status``, latency,
        limits, reply mode as given to the constructor). Message ids keep counting so they stay
        unique over the emulator's life.
        """
        with self._lock:
            self._generation += 1
            self._configure()
            self.received.clear()
            self.requests.clear()
            self.errors.clear()
            self.rate_limited = 0
            self.hold_before_counting.clear()
            if self.gate is not None:
                self.gate.set()  # a request still held goes on (and is dropped as stale)
            self.gate = None
            self.arrived.clear()
            self._arrivals = 0
            self._by_number.clear()
            self._pairs.clear()
            self._vairo_sends.clear()
            self._mas_sends.clear()
            for p in PROVIDERS:
                self._credits[p] = DEFAULT_CREDITS
                self._faults[p].clear()
                self._answers[p].clear()
                self._windows[p].clear()

    # -- request handling -------------------------------------------------------------------------

    def _next_id(self) -> int:  # under self._lock
        self._seq += 1
        return self._seq

    def _deliver(self, message: Received) -> None:  # under self._lock
        self.received.append(message)
        self._by_number.setdefault(message.to, []).append(message)
        self._pairs[(message.to, message.text)] += 1

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _serve(self, method: str, target: str, raw_headers: Any, body: bytes) -> _Reply | None:
        try:
            return self._serve_unchecked(method, target, raw_headers, body)
        except Exception as exc:  # a bug in the emulator: make it visible, answer 500
            self.errors.append("".join(traceback.format_exception(exc)))
            return _Reply(500, b"emulator error", "text/plain")

    def _serve_unchecked(
        self, method: str, target: str, raw_headers: Any, body: bytes
    ) -> _Reply | None:
        with self._lock:
            self._arrivals += 1
            hold = self.hold_before_counting.get(self._arrivals, 0.0)
        self._sleep(hold)
        now = time.monotonic()
        split = urlsplit(target)
        path = unquote(split.path)
        headers: dict[str, str] = {}
        for name, value in raw_headers:
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        provider = next(
            (p for p in PROVIDERS if path.startswith(f"/{p}/") or path == f"/{p}"), None
        )
        form: dict[str, Any] | None = None
        if provider == "masgsm":
            form = {}
            if (
                method == "POST"
                and _media_type(headers.get("content-type")) == "application/x-www-form-urlencoded"
            ):
                form = parse_php_form(body, max_input_vars=self.masgsm_max_input_vars)
        req = RecordedRequest(
            method=method,
            path=path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            provider=provider,
            form=form,
            time=time.time(),
            target=target,
        )
        limited = False
        with self._lock:
            generation = self._generation
            self.requests.append(req)
            gate = self.gate
        self.arrived.set()
        if gate is not None:
            gate.wait(30.0)
        with self._lock:
            limit = self.rate_limit_per_second
            if provider is not None and limit is not None:
                window = self._windows[provider]
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if len(window) >= limit:
                    limited = True
                    self.rate_limited += 1
                else:
                    window.append(now)
        self._sleep(self.latency)
        if generation != self._generation:
            # The emulator was reset while this request waited (a test ended): a stale request
            # must not deliver into the next test's state.
            return None
        if limited:
            return _html_reply(429, _nginx_page(429, "Too Many Requests"), [("Retry-After", "1")])
        if provider is None:
            return _html_reply(404, _nginx_page(404, "Not Found"))
        action, is_send = self._route(provider, req)
        with self._lock:
            scripted = self._answers[provider].popleft() if self._answers[provider] else None
        if scripted is not None:
            answer, process = scripted
            if is_send and process:
                action()
            return answer if isinstance(answer, _Reply) else answer(req)

        fault: tuple[str, dict[str, float]] | None = None
        if is_send:
            with self._lock:
                if self._faults[provider]:
                    fault = self._faults[provider].popleft()
        if fault is None:
            return action()
        name, params = fault
        if name not in _PROCESSED_FAULTS:
            return self._unprocessed_fault(name, params)
        reply = action()
        if name == "html-200":
            return _html_reply(200, _CMS_PAGE)
        if name == "empty-200":
            return _Reply(200, b"", _HTML)
        if name == "500-after-processing":
            return _html_reply(500, _nginx_page(500, "Internal Server Error"))
        if name == "drop-after-processing":
            return None
        if name == "302-after-processing":  # a PHP script's POST/redirect/GET
            return _html_reply(302, _nginx_page(302, "Found"), [("Location", "/gonderildi")])
        if name == "bad-gzip-after-processing":  # a broken proxy: the body is not gzip
            return replace(reply, headers=[*reply.headers, ("Content-Encoding", "gzip")])
        # timeout-after-processing: answer normally, too late for the client's read timeout
        self._sleep(params.get("delay", 5.0))
        return reply

    @staticmethod
    def _unprocessed_fault(name: str, params: dict[str, float]) -> _Reply | None:
        retry = [("Retry-After", _retry_after(params.get("retry_after", 1)))]
        if name == "429":
            return _html_reply(429, _nginx_page(429, "Too Many Requests"), retry)
        if name == "503-retry-after":
            return _html_reply(503, _nginx_page(503, "Service Temporarily Unavailable"), retry)
        if name == "502-html":
            return _html_reply(502, _nginx_page(502, "Bad Gateway"))
        if name == "html-404":
            return _html_reply(404, _nginx_page(404, "Not Found"))
        if name == "500":
            return _html_reply(500, _nginx_page(500, "Internal Server Error"))
        assert name == "drop-before-processing"
        return None

    def _route(self, provider: str, req: RecordedRequest) -> tuple[Callable[[], _Reply], bool]:
        """(the handler, whether this is a send request)."""
        sub = req.path[len(_ROOTS[provider]) :] if req.path.startswith(_ROOTS[provider]) else None

        def not_found() -> _Reply:
            return _html_reply(404, _nginx_page(404, "Not Found"))

        def not_allowed() -> _Reply:
            return _html_reply(405, _nginx_page(405, "Not Allowed"))

        if provider == "customersms":
            if sub != "/sms_system/api.php":
                return not_found, False
            if req.method != "POST":
                return not_allowed, False
            return (lambda: self._customersms_send(req)), True

        if provider == "vairosms":
            if sub == "/SmsGonder":
                if req.method != "POST":
                    return not_allowed, False
                return (lambda: self._vairosms_send(req)), True
            match = re.fullmatch(r"/(GonderimBilgisi|NumaraRaporu)/([^/]+)", sub or "")
            if match is None:
                return not_found, False
            if match[1] == "GonderimBilgisi" and req.method in ("GET", "POST"):
                return (lambda: self._vairosms_package(req, match[2])), False
            if match[1] == "NumaraRaporu" and req.method == "POST":
                return (lambda: self._vairosms_number(req, match[2])), False
            return not_allowed, False

        # masgsm
        if sub == "":  # Apache: a directory without its trailing slash
            location = _ROOTS["masgsm"] + "/"
            return (lambda: _html_reply(301, b"", [("Location", location)])), False
        if sub == "/":
            return (lambda: self._masgsm_legacy(req)), False
        if sub == "/api_post.php":
            form = req.form or {}
            is_send = form.get("type") in ("0", "1")
            return (lambda: self._masgsm_post(form)), is_send
        return not_found, False

    # -- customersms ------------------------------------------------------------------------------

    def _customersms_send(self, req: RecordedRequest) -> _Reply:
        def error(status: int, message: str, code: str) -> _Reply:
            return _json_reply(status, {"success": False, "error": message, "code": code})

        # Undocumented: every error here except INVALID_API_KEY, and all HTTP statuses.
        if _media_type(req.headers.get("content-type")) != "application/json":
            return error(400, "Content-Type must be application/json", "INVALID_JSON")
        try:
            data = json.loads(req.body.decode("utf-8"))
        except ValueError:  # includes UnicodeDecodeError
            return error(400, "Invalid JSON", "INVALID_JSON")
        if not isinstance(data, dict):
            return error(400, "Invalid JSON", "INVALID_JSON")
        api_key, phone, message = data.get("api_key"), data.get("phone"), data.get("message")
        if any(v is None or v == "" or v == [] for v in (api_key, phone, message)):
            return error(
                400, "Missing required parameters: api_key, phone, message", "MISSING_PARAMETERS"
            )
        if not isinstance(api_key, str) or not isinstance(message, str):
            return error(400, "api_key and message must be strings", "INVALID_PARAMETERS")
        if isinstance(phone, str):
            phones = [p.strip() for p in phone.split(",")]
        elif isinstance(phone, list) and all(isinstance(p, str) for p in phone):
            phones = [p.strip() for p in phone]
        else:
            return error(400, "phone must be a string or an array of strings", "INVALID_PARAMETERS")
        if api_key != self.CUSTOMERSMS_KEY:
            return error(
                self.customersms_error_status, "Invalid or inactive API key", "INVALID_API_KEY"
            )

        targets: list[str | None] = []
        for p in phones:
            to = p if _E164.fullmatch(p) else ("+" + p if _DIGITS.fullmatch(p) else None)
            targets.append(None if to is None or to in self.reject_numbers else to)
        needed = sum(t is not None for t in targets)
        with self._lock:
            if self._credits["customersms"] < needed:
                # Undocumented code and status (402).
                return error(402, "Insufficient credits", "INSUFFICIENT_CREDITS")
            self._credits["customersms"] -= needed
            results: list[dict[str, Any]] = []
            for p, to in zip(phones, targets, strict=True):
                if to is None:
                    results.append({"phone": p, "success": False, "error": "Invalid phone number"})
                    continue
                message_id = f"msg_{self._next_id()}"
                self._deliver(Received("customersms", to, message, None, False, message_id, None))
                results.append({"phone": p, "success": True, "message_id": message_id})
            remaining = self._credits["customersms"]
        return _json_reply(
            200,
            {
                "success": True,
                "message": "SMS sending completed",
                "total_numbers": len(phones),
                "successful_sends": needed,
                "failed_sends": len(phones) - needed,
                "remaining_credits": remaining,
                "results": results,
            },
        )

    # -- vairosms ---------------------------------------------------------------------------------

    @staticmethod
    def _vairo(status: int, aciklama: Any) -> _Reply:
        return _json_reply(status, {"durum": status == 200, "aciklama": aciklama})

    def _vairo_auth(self, req: RecordedRequest) -> _Reply | None:
        if req.query.get("api_key") != self.VAIROSMS_KEY:
            return self._vairo(401, "Gönderilen api_key bilgisi hatalı, lütfen kontrol edin.")
        return None

    def _vairo_json(self, req: RecordedRequest) -> Any:
        if _media_type(req.headers.get("content-type")) != "application/json":
            return None
        try:
            return json.loads(req.body.decode("utf-8"))
        except ValueError:
            return None

    def _vairosms_send(self, req: RecordedRequest) -> _Reply:
        denied = self._vairo_auth(req)
        if denied:
            return denied
        data = self._vairo_json(req)
        if not isinstance(data, dict):
            return self._vairo(400, "INVALID_REQUEST")  # undocumented text
        if data.get("baslik") not in self.headers.get("vairosms", []):
            return self._vairo(400, "INVALID_SOURCE_ADDRESS")
        messages = data.get("mesajlar")
        if not isinstance(messages, list) or not messages:
            return self._vairo(400, "MISSING_MESSAGE")
        checked: list[tuple[str, str, str]] = []
        for item in messages:
            if not isinstance(item, dict):
                return self._vairo(400, "MISSING_MESSAGE")
            msg, dest = item.get("msg"), item.get("dest")
            if not isinstance(msg, str) or not msg:
                return self._vairo(400, "MISSING_MESSAGE")
            if len(msg) > 1000:
                return self._vairo(400, "MESSAGE_TOO_LONG")
            if dest is None or dest == "":
                return self._vairo(400, "MISSING_DESTINATION_ADDRESS")
            if not isinstance(dest, str) or not _VAIRO_DEST.fullmatch(dest):
                return self._vairo(400, "INVALID_DESTINATION_ADDRESS")
            checked.append((dest, "+90" + dest[-10:], msg))
        turkish = data.get("tr_char") is True
        header = str(data["baslik"])
        with self._lock:
            if self._credits["vairosms"] < len(checked):
                return self._vairo(400, "Yetersiz kredi")  # undocumented text
            self._credits["vairosms"] -= len(checked)
            send_id = self._next_id()
            entries = []
            for dest, to, msg in checked:
                rejected = to in self.reject_numbers
                entries.append(_VairoEntry(self._next_id(), dest, to, msg, rejected))
                if not rejected:
                    self._deliver(
                        Received("vairosms", to, msg, header, turkish, str(send_id), str(send_id))
                    )
            self._vairo_sends[send_id] = _VairoSend(send_id, header, _now(), entries)
        return self._vairo(200, send_id)

    def _vairo_find(self, raw_id: str) -> _VairoSend | None:
        with self._lock:
            return self._vairo_sends.get(int(raw_id)) if raw_id.isdigit() else None

    def _vairo_status(self, entry: _VairoEntry) -> str:
        if entry.to in self.vairosms_words:
            return self.vairosms_words[entry.to]
        if entry.rejected or entry.to in self.undelivered_numbers:
            return "NOT_DELIVERED"
        if entry.to in self.pending_numbers:
            return "WAITING"
        return "DELIVERED"

    def _vairosms_package(self, req: RecordedRequest, raw_id: str) -> _Reply:
        denied = self._vairo_auth(req)
        if denied:
            return denied
        send = self._vairo_find(raw_id)
        if send is None:
            return self._vairo(404, "Kayıt bulunamadı")
        pending = any(self._vairo_status(e) == "WAITING" for e in send.entries)
        return self._vairo(
            200,
            {
                "id": send.send_id,
                "sms_baslik": send.header,
                "numara_toplam": len(send.entries),
                "kredi_toplam": len(send.entries),
                "sonlanma_zamani": send.created_at,  # undocumented values from here on
                "ileri_tarih": None,
                "gecerlilik_suresi": 1440,
                "paket_durum": 0 if pending else 1,
                "created_at": send.created_at,
            },
        )

    def _vairosms_number(self, req: RecordedRequest, raw_id: str) -> _Reply:
        denied = self._vairo_auth(req)
        if denied:
            return denied
        data = self._vairo_json(req)
        numara = data.get("numara") if isinstance(data, dict) else None
        send = self._vairo_find(raw_id)
        if send is None or not isinstance(numara, str):
            return self._vairo(404, "Kayıt bulunamadı")
        wanted = normalize_number(numara)
        entry = next((e for e in send.entries if e.to == wanted), None)
        if entry is None:
            return self._vairo(404, "Kayıt bulunamadı")
        return self._vairo(
            200,
            {
                "id": entry.record_id,
                "sms_gonderim_id": send.send_id,
                "numara": entry.dest,
                "mesaj": entry.text,
                "mesaj_boy": _sms_parts(entry.text),
                "durum_gonderim": self._vairo_status(entry),
                "durum_iade": 0,
                "created_at": send.created_at,
                "updated_at": send.created_at,
            },
        )

    # -- masgsm -----------------------------------------------------------------------------------

    _MAS_TEXT: ClassVar[dict[int, str]] = {
        0: "Gönderim Hatası",
        1: "Başarılı",
        2: "Yetersiz Bakiye",
        3: "Yetersiz Bakiye , Parça gönderim sağlandı. Hesap bakiyesi kadar gönderim yapıldı.",
        400: "Eksik Parametre",
        401: "Kullanıcı Adı Şifre Hatası",
        402: "Hatalı veya Geçersiz Baslik",
        403: "Yasaklı Başlık",
        405: "Geçersiz Numara Biçimi , Geçerli Numara Biçimi : 5xxxxxxxxx",
    }

    def _mas_code(self, code: int, send_id: str | None = None) -> _Reply:
        if self.masgsm_reply == "plain":
            text = str(code) if send_id is None else f"{code} {send_id}"
            return _Reply(200, text.encode(), _PHP_TEXT)
        payload: dict[str, Any] = {"code": code, "message": self._MAS_TEXT[code]}
        if send_id is not None:
            payload["id"] = send_id
        return _Reply(200, _dumps(payload), _PHP_TEXT)

    def _masgsm_legacy(self, req: RecordedRequest) -> _Reply:
        if self.masgsm_legacy_down:
            return _html_reply(404, _nginx_page(404, "Not Found"))
        form = req.form or {}
        if form.get("user") != self.MASGSM_USER or form.get("pass") != self.MASGSM_PASS:
            return _Reply(200, b"401", _PHP_TEXT)
        if form.get("apiNo") != "3":
            return _Reply(200, b"400", _PHP_TEXT)  # only the header list is emulated
        return _Reply(200, _dumps(list(self.headers.get("masgsm", []))), _PHP_TEXT)

    def _masgsm_post(self, form: dict[str, Any]) -> _Reply:
        user, password, kind = form.get("u"), form.get("p"), form.get("type")
        if not user or not password:
            return self._mas_code(400)
        if user != self.MASGSM_USER or password != self.MASGSM_PASS:
            return self._mas_code(401)
        if kind in ("0", "1"):
            return self._masgsm_send(form, kind)
        if kind == "2":
            return self._masgsm_report(form)
        if kind == "4":
            with self._lock:
                balance = self._credits["masgsm"]
            return _Reply(
                200,
                _dumps(
                    {"code": 1, "message": "Hesap Bakiyesi", "balance": f"{max(balance, 0):06d}"}
                ),
                _PHP_TEXT,
            )
        return self._mas_code(400)  # missing/unknown type (type=3, reseller, not emulated)

    def _masgsm_send(self, form: dict[str, Any], kind: str) -> _Reply:
        message, title, numbers = form.get("message"), form.get("title"), form.get("numbers")
        if not message or not isinstance(title, str) or not title or not isinstance(numbers, str):
            return self._mas_code(400)
        if not numbers:
            return self._mas_code(400)
        if title == self.MASGSM_FORBIDDEN_HEADER:
            return self._mas_code(403)
        if title not in self.headers.get("masgsm", []):
            return self._mas_code(402)
        nums = [n.strip() for n in numbers.split(",")]
        if not all(_MAS_NUMBER.fullmatch(n) for n in nums):
            return self._mas_code(405)
        texts: list[str]
        if kind == "0":
            if not isinstance(message, str):
                return self._mas_code(400)
            texts = [message] * len(nums)
        else:
            indexed = _php_list(message)
            if indexed is None or len(indexed) != len(nums):
                return self._mas_code(400)
            texts = []
            for i in range(len(nums)):
                text = indexed.get(i)
                if not isinstance(text, str) or not text:
                    return self._mas_code(400)
                texts.append(text)
        turkish = form.get("lang") == "tr"
        with self._lock:
            credits = self._credits["masgsm"]
            if credits <= 0:
                return self._mas_code(2)
            count = min(credits, len(nums))
            self._credits["masgsm"] -= count
            send_id = str(self._next_id())
            charged = []
            for number, text in zip(nums[:count], texts[:count], strict=True):
                to = "+90" + number
                charged.append(to)
                if to not in self.reject_numbers:
                    self._deliver(Received("masgsm", to, text, title, turkish, send_id, send_id))
            self._mas_sends[send_id] = _MasSend(send_id, charged)
        return self._mas_code(1 if count == len(nums) else 3, send_id)

    def _masgsm_report(self, form: dict[str, Any]) -> _Reply:
        send_id = form.get("id")
        if not isinstance(send_id, str) or not send_id:
            return self._mas_code(400)
        with self._lock:
            send = self._mas_sends.get(send_id)
        report: dict[str, list[str]] = {"Iletilen": [], "Hatali": [], "Bekleyen": []}
        for to in send.numbers if send else []:  # unknown id: empty lists (undocumented)
            if to in self.reject_numbers or to in self.undelivered_numbers:
                key = "Hatali"
            elif to in self.pending_numbers:
                key = "Bekleyen"
            else:
                key = "Iletilen"
            report[key].append(to[3:])
        return _Reply(200, _dumps(report), _PHP_TEXT)
