"""Replies that look like "not processed" but may not be, hostile ``Retry-After`` values and a
``Content-Encoding`` that lies (issue 26), through the real path: the drivers over real HTTP
against the loopback emulator, and the CLI in a subprocess.

- A reply to a send that is a redirect, an HTML page (any status) or a wording or code the
  provider does not document may come after the request was processed: ``unknown``, never
  ``failed``, so ``--retry-failed`` never sends it twice. Only documented refusals, a 429 and a
  503 with a usable ``Retry-After`` mean "not processed".
- ``Retry-After`` that is not finite or negative is as if absent; more than a day is a day.
- A body that does not decode as its ``Content-Encoding`` says: ``unknown`` for a send, a
  provider error (exit 6) for a call that sends nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from smscli.errors import (
    AuthError,
    CreditError,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    SenderError,
)
from smscli.http import MAX_RETRY_AFTER, parse_retry_after
from smscli.providers.base import Account, Batch, Message
from smscli.providers.customersms import CustomerSms
from smscli.providers.masgsm import MasGsm
from smscli.providers.vairosms import VairoSms
from tests.emulator import Emulator, RecordedRequest

A, B = "+905321234567", "+905321112233"
PROFILE = {"customersms": "cs", "vairosms": "vs", "masgsm": "mas"}
SECRETS = (Emulator.CUSTOMERSMS_KEY, Emulator.VAIROSMS_KEY, Emulator.MASGSM_PASS)
PAGE = "<!DOCTYPE html><html><body><h1>Hata</h1><p>Lütfen tekrar deneyin.</p></body></html>"
HTML = "text/html; charset=UTF-8"
DAY = 86400.0


class _NoState:
    def get(self, key: str) -> str | None:
        return None


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, follow_redirects=False) as client:
        yield client


Driver = CustomerSms | VairoSms | MasGsm


def driver(provider: str, emulator: Emulator, http: httpx.Client) -> Driver:
    url = emulator.base_url(provider)
    if provider == "customersms":
        account = Account(provider, url, api_key=Emulator.CUSTOMERSMS_KEY)
        return CustomerSms(account, http, _NoState())
    if provider == "vairosms":
        return VairoSms(Account(provider, url, api_key=Emulator.VAIROSMS_KEY), http, _NoState())
    account = Account(provider, url, username=Emulator.MASGSM_USER, password=Emulator.MASGSM_PASS)
    return MasGsm(account, http, _NoState())


def batch() -> Batch:
    return Batch((Message("m0", A, "Merhaba"), Message("m1", B, "Merhaba")), sender="ACME")


def location(req: RecordedRequest) -> list[tuple[str, str]]:
    return [("Location", "/giris?sonra=/gonderildi")]


def redirect(emulator: Emulator, provider: str, status: int = 302) -> None:
    """A PHP script that did its work, then redirected (POST/redirect/GET)."""
    emulator.echo(provider, lambda r: PAGE, status=status, headers=location)


def clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# --- 1. replies that look unprocessed but may not be ------------------------------------------

# (provider, how to script the reply): every one is processed by the emulator first.
IN_DOUBT = {
    "302": lambda emu, p: redirect(emu, p),
    "301": lambda emu, p: redirect(emu, p, 301),
    "303": lambda emu, p: redirect(emu, p, 303),
    "307 empty": lambda emu, p: emu.echo(p, lambda r: "", status=307, headers=location),
    "html 404": lambda emu, p: emu.answer(p, PAGE, status=404, content_type=HTML),
    "html 403": lambda emu, p: emu.answer(p, PAGE, status=403, content_type=HTML),
    "html 400": lambda emu, p: emu.answer(p, PAGE, status=400, content_type=HTML),
    "html 401": lambda emu, p: emu.answer(p, PAGE, status=401, content_type=HTML),
    "html 200": lambda emu, p: emu.answer(p, PAGE, content_type=HTML),
    "plain 404": lambda emu, p: emu.answer(p, "Not Found", status=404, content_type="text/plain"),
}


@pytest.mark.parametrize("kind", sorted(IN_DOUBT))
@pytest.mark.parametrize("provider", ["customersms", "vairosms", "masgsm"])
def test_a_redirect_or_a_page_after_a_send_is_in_doubt(emulator, http, provider, kind):
    IN_DOUBT[kind](emulator, provider)
    with pytest.raises(OutcomeUnknown) as caught:
        driver(provider, emulator, http).send(batch())
    assert f"{provider}: unexpected reply (HTTP " in caught.value.message
    assert "may have taken" in caught.value.message
    if kind[:1] == "3":
        assert "not followed" in caught.value.message
        if "empty" not in kind:
            assert "/giris?sonra=/gonderildi" in caught.value.message
    assert len(emulator.received) == 2  # it was processed: a failed state would send it twice


UNDOCUMENTED_WORDS = [
    ("vairosms", {"durum": False, "aciklama": "Sistem hatası"}, 400),
    ("vairosms", {"durum": False, "aciklama": "Sistem hatası"}, 200),
    ("vairosms", {"durum": False, "aciklama": "Hesabınız askıya alındı"}, 403),
    ("vairosms", {"durum": False, "aciklama": ""}, 400),
    ("vairosms", {"durum": False}, 400),
    ("vairosms", {"durum": False, "aciklama": {"hata": 1}}, 400),
    ("customersms", {"success": False, "error": "Internal error", "code": "SERVER_ERROR"}, 400),
    ("customersms", {"success": False, "error": "boom", "code": "WHATEVER"}, 200),
    ("customersms", {"success": False, "error": "Gönderim hatası"}, 400),
    ("customersms", {"success": False}, 400),
]


@pytest.mark.parametrize(("provider", "body", "status"), UNDOCUMENTED_WORDS)
def test_an_undocumented_refusal_of_a_send_is_in_doubt(emulator, http, provider, body, status):
    emulator.answer(provider, body, status=status)
    with pytest.raises(OutcomeUnknown) as caught:
        driver(provider, emulator, http).send(batch())
    message = caught.value.message
    assert message.startswith(provider) and "not documented" in message, message
    assert "may have" in message and "never sent again automatically" in message
    said = body.get("aciklama") or body.get("error")
    if isinstance(said, str) and said:
        assert said in message
    assert len(emulator.received) == 2


@pytest.mark.parametrize(
    ("provider", "body", "status", "error"),
    [
        ("vairosms", {"durum": False, "aciklama": "Gönderilen api_key bilgisi hatalı"}, 401,
         AuthError),
        ("vairosms", {"durum": False, "aciklama": "INVALID_SOURCE_ADDRESS"}, 400, SenderError),
        ("vairosms", {"durum": False, "aciklama": "Yetersiz kredi"}, 400, CreditError),
        ("customersms", {"success": False, "error": "Invalid or inactive API key",
                         "code": "INVALID_API_KEY"}, 200, AuthError),
        ("customersms", {"success": False, "error": "x", "code": "OTHER"}, 401, AuthError),
        ("customersms", {"success": False, "error": "Insufficient credits",
                         "code": "INSUFFICIENT_CREDITS"}, 402, CreditError),
        ("masgsm", {"code": 401}, 200, AuthError),
        ("masgsm", {"code": 403}, 200, SenderError),
        ("masgsm", {"code": 2}, 200, CreditError),
    ],
)  # fmt: skip
def test_documented_refusals_keep_their_errors(emulator, http, provider, body, status, error):
    emulator.answer(provider, body, status=status, process=False)
    with pytest.raises(error):
        driver(provider, emulator, http).send(batch())
    assert emulator.received == []


def test_documented_per_message_failures_stay_failed(emulator, http):
    emulator.answer("masgsm", {"code": 0, "message": "Gönderim Hatası"}, process=False)
    result = driver("masgsm", emulator, http).send(batch())
    assert {o.status for o in result.outcomes} == {"failed"}
    emulator.reject_numbers.add(B)
    result = driver("customersms", emulator, http).send(batch())
    assert [o.status for o in result.outcomes] == ["accepted", "failed"]


def test_balance_and_headers_may_still_call_a_redirect_a_provider_error(emulator, http):
    mas = driver("masgsm", emulator, http)
    assert isinstance(mas, MasGsm)
    redirect(emulator, "masgsm")
    with pytest.raises(ProviderError) as caught:
        mas.balance()
    assert not isinstance(caught.value, OutcomeUnknown)
    emulator.answer("masgsm", PAGE, status=404, content_type=HTML)
    with pytest.raises(ProviderError) as caught:
        mas.headers()
    assert not isinstance(caught.value, OutcomeUnknown)


SCRIPTED = {
    "302": ("customersms", lambda emu: redirect(emu, "customersms")),
    "html 404": ("vairosms", lambda emu: emu.answer("vairosms", PAGE, status=404,
                                                    content_type=HTML)),
    "html 403": ("masgsm", lambda emu: emu.answer("masgsm", PAGE, status=403, content_type=HTML)),
    "302 fault": ("masgsm", lambda emu: emu.inject("masgsm", "302-after-processing")),
    "Sistem hatası": ("vairosms", lambda emu: emu.answer(
        "vairosms", {"durum": False, "aciklama": "Sistem hatası"}, status=400)),
    "undocumented code": ("customersms", lambda emu: emu.answer(
        "customersms", {"success": False, "error": "boom", "code": "WHATEVER"}, status=400)),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(SCRIPTED))
def test_retry_failed_never_sends_a_reply_in_doubt_twice(proc, home, emulator, kind):
    home.write_config(emulator.profiles())
    provider, script = SCRIPTED[kind]
    (home.cwd / "list.csv").write_text(f"telefon\n{A}\n{B}\n", encoding="utf-8")
    bulk = ("bulk", "list.csv", "-m", "Merhaba", "-p", PROFILE[provider], "--yes", "--force")
    script(emulator)
    out = proc(*bulk, "--json")
    assert out.exit_code == 7, out.stdout + out.stderr
    assert {s for (s,) in home.query("SELECT state FROM messages")} == {"unknown"}
    assert len(emulator.received) == 2
    emulator.requests.clear()
    again = proc(*bulk, "--retry-failed")
    assert again.exit_code == 2, again.stdout + again.stderr  # nothing failed: nothing to send
    assert "0 failed, 2 unknown" in again.stderr
    assert emulator.requests == []
    assert emulator.duplicates() == {}
    clean(out.stdout, out.stderr, again.stdout, again.stderr)


# --- 2. hostile Retry-After -------------------------------------------------------------------

NOW = 1_800_000_000.0


def http_date(seconds: float) -> str:
    return format_datetime(datetime.fromtimestamp(seconds, UTC), usegmt=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("inf", None),
        ("Infinity", None),
        ("-inf", None),
        ("nan", None),
        ("NaN", None),
        ("-5", None),
        ("-0.5", None),
        ("1e400", None),
        ("abc", None),
        ("", None),
        ("99999999999999", DAY),
        ("9" * 400, DAY),
        ("86401", DAY),
        ("86400", 86400.0),
        ("0", 0.0),
        (" 120 ", 120.0),
        ("0.2", 0.2),
        ("Fri, 31 Dec 9999 23:59:59 GMT", DAY),
        ("Sat, 01 Jan 10000 00:00:00 GMT", None),
        (http_date(NOW + 30), 30.0),
        (http_date(NOW - 30), 0.0),
    ],
)
def test_parse_retry_after_is_finite_and_at_most_a_day(value, seconds):
    assert parse_retry_after(value, now=NOW) == seconds


def test_the_longest_retry_after_is_a_day():
    assert MAX_RETRY_AFTER == DAY


@pytest.mark.parametrize(
    ("value", "expected"),
    [("inf", None), ("nan", None), ("-5", None), ("99999999999999", DAY),
     ("Fri, 31 Dec 9999 23:59:59 GMT", DAY)],
)  # fmt: skip
def test_a_429_carries_a_bounded_retry_after(emulator, http, value, expected):
    emulator.echo(
        "customersms", lambda r: "", status=429, headers=lambda r: [("Retry-After", value)],
        process=False,
    )  # fmt: skip
    with pytest.raises(RateLimited) as caught:
        driver("customersms", emulator, http).send(batch())
    assert caught.value.retry_after == expected
    assert emulator.received == []


@pytest.mark.parametrize("value", ["inf", "nan", "-5"])
def test_a_503_with_an_unusable_retry_after_is_a_503_without_one(emulator, http, value):
    emulator.echo(
        "vairosms", lambda r: PAGE, status=503, headers=lambda r: [("Retry-After", value)]
    )
    with pytest.raises(OutcomeUnknown, match="HTTP 503"):
        driver("vairosms", emulator, http).send(batch())


def blocked_until(home) -> list[float]:
    return [until for (until,) in home.query("SELECT until FROM rate_blocks")]


@pytest.mark.parametrize("value", ["inf", "nan", "-5"])
def test_after_a_429_with_an_unusable_retry_after_sends_go_on(proc, home, emulator, value):
    home.write_config(emulator.profiles())
    emulator.inject("customersms", "429", retry_after=float(value))
    started = time.time()
    out = proc("send", f"{A},{B}", "-m", "Merhaba", "-p", "cs", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr  # waited the default back-off, sent
    assert all(until < started + 120 for until in blocked_until(home))
    again = proc("send", A, "-m", "İkinci", "-p", "cs", "--json")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert [m.text for m in emulator.received_by(A)] == ["Merhaba", "İkinci"]
    assert emulator.duplicates() == {}


@pytest.mark.parametrize("value", ["99999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_an_absurd_retry_after_blocks_the_account_a_day_at_most(proc, home, emulator, value):
    home.write_config(emulator.profiles())
    emulator.echo(
        "customersms", lambda r: "", status=429, headers=lambda r: [("Retry-After", value)],
        process=False,
    )  # fmt: skip
    started = time.time()
    out = proc("send", A, "-m", "Merhaba", "-p", "cs")
    assert out.exit_code == 8, out.stdout + out.stderr  # beyond --max-wait: run again later
    assert "beyond --max-wait" in out.stderr
    [until] = blocked_until(home)
    assert started + DAY - 60 < until <= time.time() + DAY
    later = proc("send", B, "-m", "Merhaba", "-p", "cs")
    assert later.exit_code == 8, later.stdout + later.stderr  # still that day, never exit 70
    assert emulator.received == []


# --- 3. a Content-Encoding that lies ----------------------------------------------------------


def lying_gzip(emulator: Emulator, provider: str, body: str) -> None:
    emulator.echo(
        provider, lambda r: body, headers=lambda r: [("Content-Encoding", "gzip")],
        content_type="application/json",
    )  # fmt: skip


@pytest.mark.parametrize("provider", ["customersms", "vairosms", "masgsm"])
def test_a_send_whose_reply_cannot_be_decoded_is_in_doubt(emulator, http, provider):
    emulator.inject(provider, "bad-gzip-after-processing")
    with pytest.raises(OutcomeUnknown) as caught:
        driver(provider, emulator, http).send(batch())
    assert f"{provider}: the reply could not be decoded" in caught.value.message
    assert "may have taken" in caught.value.message
    assert len(emulator.received) == 2


def test_a_call_that_sends_nothing_with_an_undecodable_reply_is_a_provider_error(emulator, http):
    mas = driver("masgsm", emulator, http)
    assert isinstance(mas, MasGsm)
    for call in (mas.balance, mas.headers, lambda: mas.report("777", [A])):
        lying_gzip(emulator, "masgsm", '{"code":1,"balance":"42"}')
        with pytest.raises(ProviderError) as caught:
            call()
        assert not isinstance(caught.value, OutcomeUnknown)
        assert "masgsm: the reply could not be decoded" in caught.value.message
    vs = driver("vairosms", emulator, http)
    assert isinstance(vs, VairoSms)
    lying_gzip(emulator, "vairosms", '{"durum":true,"aciklama":{"paket_durum":1}}')
    with pytest.raises(ProviderError, match="vairosms: the reply could not be decoded"):
        vs.report("777", [A])


@pytest.mark.parametrize("command", ["send", "bulk"])
def test_masgsm_send_and_bulk_with_an_undecodable_reply_exit_7(proc, home, emulator, command):
    home.write_config(emulator.profiles())
    emulator.inject("masgsm", "bad-gzip-after-processing")
    (home.cwd / "list.csv").write_text(f"telefon\n{A}\n{B}\n", encoding="utf-8")
    args = ("send", f"{A},{B}") if command == "send" else ("bulk", "list.csv", "--yes")
    out = proc(*args, "-m", "Merhaba", "-p", "mas", "--force", "--json")
    assert out.exit_code == 7, out.stdout + out.stderr
    assert "masgsm: the reply could not be decoded" in out.stdout
    assert {s for (s,) in home.query("SELECT state FROM messages")} == {"unknown"}
    assert len(emulator.received) == 2
    clean(out.stdout, out.stderr)


@pytest.mark.parametrize("command", ["balance", "headers", "doctor"])
def test_balance_headers_doctor_with_an_undecodable_reply_exit_6(proc, home, emulator, command):
    home.write_config(emulator.profiles())
    lying_gzip(emulator, "masgsm", '["ACME"]' if command == "headers" else '{"code":1}')
    out = proc(command) if command == "doctor" else proc(command, "-p", "mas")
    if command == "doctor":  # a check it could not make: said, never a crash
        assert out.exit_code in (0, 6), out.stdout + out.stderr
    else:
        assert out.exit_code == 6, out.stdout + out.stderr
    assert "masgsm: the reply could not be decoded" in out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr
    clean(out.stdout, out.stderr)


@pytest.mark.parametrize("stored", [float("inf"), 99999999999999.0])
def test_a_block_stored_by_an_older_smscli_from_a_hostile_retry_after_is_not_honoured(
    proc, home, emulator, stored
):
    """A ledger written before Retry-After was capped holds an endless block: the account
    sends again all the same, and a real 429 afterwards blocks it as usual."""
    home.write_config(emulator.profiles())
    assert proc("send", "05321234567", "-m", "Merhaba", "-p", "vs").exit_code == 0
    home.query("INSERT INTO rate_blocks (account, until) SELECT account, ? FROM runs", stored)
    out = proc("send", "05321112233", "-m", "Merhaba", "-p", "vs")
    assert out.exit_code == 0, out.stderr
    emulator.inject("vairosms", "429", retry_after=3600)
    out = proc("send", "05334445566", "-m", "Merhaba", "-p", "vs", "--max-wait", "0")
    assert out.exit_code == 8, out.stderr
    ((until,),) = home.query("SELECT until FROM rate_blocks")
    assert until < 1e12  # the endless block was replaced by the real one
