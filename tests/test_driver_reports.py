"""Delivery reports and sender header lists of every driver.

Unit tests give a driver an ``httpx.MockTransport`` that answers a scripted sequence of replies
and check the exact requests on the wire; integration tests send a batch through a driver over
real HTTP to the loopback emulator and read its report back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote_plus

import httpx
import pytest

from smscli.errors import (
    AuthError,
    ConfigError,
    CreditError,
    ExitCode,
    NotSent,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    SmscliError,
    UnsupportedOperation,
)
from smscli.providers.base import Account, Batch, Delivery, Header, Message
from smscli.providers.masgsm import MasGsm
from smscli.providers.sandbox import Sandbox
from smscli.providers.vairosms import VairoSms
from tests.emulator import Emulator
from tests.test_drivers import (
    CANARIES,
    FORM,
    HTML,
    TR1,
    TR2,
    TR3,
    US1,
    customersms,
    echoes,
    masgsm,
    vairosms,
    wire_forms,
)

VAIRO_ROOT = "https://vairosms.com/Panel/api/v1"
MAS_ROOT = "http://masgsm.com.tr/MasApiV2"


class _NoState:
    def get(self, key: str) -> str | None:
        return None


NO_STATE = _NoState()


# --- a mock server that answers a script ----------------------------------------------------


@dataclass
class Script:
    """Answers requests with the queued replies in order; the last one answers all the rest."""

    replies: list[tuple[int, bytes, dict[str, str]]] = field(default_factory=list)
    error: Exception | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def then(self, status: int, body: object = "", **headers: str) -> Script:
        """Queue ``body``: a str as it is, anything else as JSON."""
        raw = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.replies.append((status, raw, headers))
        return self

    def reply(self, status: int, body: object = "", **headers: str) -> Script:
        """Answer every request with this one reply."""
        self.replies.clear()
        self.error = None
        return self.then(status, body, **headers)

    def fail(self, error: Exception) -> None:
        self.error = error

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        assert self.replies, "no reply scripted"
        status, body, headers = self.replies[0] if len(self.replies) == 1 else self.replies.pop(0)
        return httpx.Response(status, content=body, headers=headers)

    @property
    def request(self) -> httpx.Request:
        assert len(self.requests) == 1, f"expected one request, got {len(self.requests)}"
        return self.requests[0]


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def client(script: Script) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(script.handle)) as c:
        yield c


def states(deliveries: list[Delivery]) -> list[tuple[str, str, str | None]]:
    return [(d.to, d.status, d.detail) for d in deliveries]


# --- masgsm report (type=2) -----------------------------------------------------------------


def mas_report(**lists: list[object]) -> dict[str, list[object]]:
    return {"Iletilen": [], "Hatali": [], "Bekleyen": [], **lists}


def test_masgsm_report_request_is_the_documented_form(script: Script, client: httpx.Client) -> None:
    script.reply(200, mas_report(Iletilen=["5321112233"]))
    masgsm(client).report("98765", [TR1])
    request = script.request
    assert request.method == "POST"
    assert str(request.url) == f"{MAS_ROOT}/api_post.php"
    assert request.headers["Content-Type"] == FORM
    assert request.content == b"type=2&u=5321112233&p=PASS123&id=98765"


def test_masgsm_report_form_encodes_password_and_id(script: Script, client: httpx.Client) -> None:
    script.reply(200, mas_report())
    masgsm(client, password="p@ss w&rd/+").report("a b&c", [TR1])
    assert script.request.content == b"type=2&u=5321112233&p=p%40ss+w%26rd%2F%2B&id=a+b%26c"


def test_masgsm_report_documented_reply(script: Script, client: httpx.Client) -> None:
    script.reply(
        200, '{"Iletilen":["5321112233","5441234567"],"Hatali":["5059876543"],"Bekleyen":[]}'
    )
    assert states(masgsm(client).report("98765", [TR3, TR1, TR2])) == [
        (TR3, "undelivered", "Hatali"),
        (TR1, "delivered", "Iletilen"),
        (TR2, "delivered", "Iletilen"),
    ]


@pytest.mark.parametrize(
    ("lists", "status", "detail"),
    [
        ({"Iletilen": ["5321112233"]}, "delivered", "Iletilen"),
        ({"Hatali": ["5321112233"]}, "undelivered", "Hatali"),
        ({"Bekleyen": ["5321112233"]}, "pending", "Bekleyen"),
        ({"Iletilen": ["5441234567"]}, "unknown", "not in masgsm's report"),
        ({}, "unknown", "not in masgsm's report"),
        ({"Hatali": ["5321112233"], "Iletilen": ["5321112233"]}, "delivered", "Iletilen"),
        ({"Bekleyen": ["5321112233"], "Hatali": ["5321112233"]}, "undelivered", "Hatali"),
    ],
)
def test_masgsm_report_status_mapping(
    script: Script, client: httpx.Client, lists: dict[str, list[object]], status: str, detail: str
) -> None:
    script.reply(200, mas_report(**lists))
    assert states(masgsm(client).report("1", [TR1])) == [(TR1, status, detail)]


@pytest.mark.parametrize(
    "written",
    [
        "5321112233",
        "05321112233",
        "905321112233",
        "+905321112233",
        "0090 532 111 22 33",
        5321112233,
    ],
)
def test_masgsm_report_matches_numbers_by_digits(
    script: Script, client: httpx.Client, written: object
) -> None:
    script.reply(200, mas_report(Bekleyen=["5441234567", written]))
    assert states(masgsm(client).report("1", [TR1, TR3])) == [
        (TR1, "pending", "Bekleyen"),
        (TR3, "unknown", "not in masgsm's report"),
    ]


@pytest.mark.parametrize("body", [{"Iletilen": ["5321112233"]}, {"Hatali": [], "Bekleyen": []}])
def test_masgsm_report_missing_lists_are_empty(
    script: Script, client: httpx.Client, body: object
) -> None:
    script.reply(200, body)
    [delivery] = masgsm(client).report("1", [TR1])
    assert delivery.status == ("delivered" if body == {"Iletilen": ["5321112233"]} else "unknown")


def test_masgsm_report_non_turkish_number_is_unknown(script: Script, client: httpx.Client) -> None:
    script.reply(200, mas_report(Iletilen=["5321112233", "2125551234"]))
    assert states(masgsm(client).report("1", [US1])) == [(US1, "unknown", "not in masgsm's report")]


MAS_REPORT_ERRORS = [
    ({"code": 401, "message": "Kullanıcı Adı Şifre Hatası"}, AuthError, ExitCode.CONFIG,
     ["masgsm", "wrong username or password", "401"]),
    ("401", AuthError, ExitCode.CONFIG, ["masgsm", "wrong username or password"]),
    ({"code": 400, "message": "Eksik Parametre"}, ProviderError, ExitCode.PROVIDER,
     ["masgsm", "missing parameter", "'98765'", "400"]),
    ("400", ProviderError, ExitCode.PROVIDER, ["masgsm", "missing parameter", "'98765'"]),
    ("2", CreditError, ExitCode.CREDIT, ["masgsm", "insufficient balance", "'98765'"]),
    ({"code": 0, "message": "Gönderim Hatası"}, ProviderError, ExitCode.PROVIDER,
     ["masgsm", "code 0", "Gönderim Hatası"]),
    ({"code": 999}, ProviderError, ExitCode.PROVIDER, ["masgsm", "999"]),
    ({"code": 1, "message": "Başarılı"}, ProviderError, ExitCode.PROVIDER,
     ["masgsm: unexpected report reply (HTTP 200)", '"code": 1']),
]  # fmt: skip


@pytest.mark.parametrize(("body", "error", "exit_code", "words"), MAS_REPORT_ERRORS)
def test_masgsm_report_coded_errors(
    script: Script,
    client: httpx.Client,
    body: object,
    error: type[SmscliError],
    exit_code: ExitCode,
    words: list[str],
) -> None:
    script.reply(200, body)
    with pytest.raises(error) as caught:
        masgsm(client).report("98765", [TR1])
    assert type(caught.value) is error
    assert caught.value.exit_code == exit_code
    for word in words:
        assert word in caught.value.message
    assert "nothing sent" not in caught.value.message


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, HTML),
        (200, ""),
        (200, "OK"),
        (200, []),
        (200, "null"),
        (200, ["5321112233"]),
        (200, {"status": "ok"}),
        (200, {"Iletilen": "5321112233"}),
        (200, {"Iletilen": [True]}),
        (200, {"Iletilen": [{"numara": "5321112233"}]}),
        (200, {"Iletilen": None}),
        (404, HTML),
        (403, ""),
    ],
)
def test_masgsm_report_unreadable_is_a_provider_error(
    script: Script, client: httpx.Client, status: int, body: object
) -> None:
    script.reply(status, body)
    with pytest.raises(ProviderError) as caught:
        masgsm(client).report("98765", [TR1])
    assert type(caught.value) is ProviderError  # nothing was sent: never OutcomeUnknown
    assert caught.value.exit_code == ExitCode.PROVIDER
    assert caught.value.message.startswith(f"masgsm: unexpected report reply (HTTP {status})")


def test_masgsm_report_redirect_names_the_location(script: Script, client: httpx.Client) -> None:
    script.reply(302, "", Location="http://elsewhere.example/api_post.php?p=PASS123")
    with pytest.raises(ProviderError) as caught:
        masgsm(client).report("98765", [TR1])
    assert "HTTP 302 redirect to http://elsewhere.example/api_post.php?p=***" in str(caught.value)
    assert "not followed" in caught.value.message
    assert "PASS123" not in caught.value.message
    assert len(script.requests) == 1


# --- transport failures of read-only calls: nothing is in doubt -----------------------------

READ_ONLY_CALLS: dict[str, Callable[[httpx.Client], object]] = {
    "masgsm report": lambda c: masgsm(c).report("98765", [TR1]),
    "masgsm headers": lambda c: masgsm(c).headers(),
    "vairosms report": lambda c: vairosms(c).report("123456", [TR1]),
}


@pytest.mark.parametrize("call", READ_ONLY_CALLS)
@pytest.mark.parametrize(
    ("status", "body", "failure"),
    [
        (500, HTML, None),
        (502, "Bad Gateway", None),
        (504, "", None),
        (0, "", httpx.ReadTimeout("read timed out")),
        (0, "", httpx.RemoteProtocolError("server disconnected")),
    ],
)
def test_read_only_call_in_doubt_is_a_plain_provider_error(
    script: Script,
    client: httpx.Client,
    call: str,
    status: int,
    body: str,
    failure: Exception | None,
) -> None:
    if failure is None:
        script.reply(status, body)
    else:
        script.fail(failure)
    with pytest.raises(ProviderError) as caught:
        READ_ONLY_CALLS[call](client)
    assert type(caught.value) is ProviderError
    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.exit_code == ExitCode.PROVIDER
    assert caught.value.message.startswith(call.split()[0] + ":")
    assert "asking again is safe" in caught.value.message
    assert "may have taken it" not in caught.value.message
    assert len(script.requests) == 1


@pytest.mark.parametrize("call", READ_ONLY_CALLS)
def test_read_only_call_not_sent_and_rate_limited(
    script: Script, client: httpx.Client, call: str
) -> None:
    script.fail(httpx.ConnectError("connection refused"))
    with pytest.raises(NotSent):
        READ_ONLY_CALLS[call](client)
    script.reply(429, "slow down", **{"Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        READ_ONLY_CALLS[call](client)
    assert caught.value.retry_after == 7.0


def test_masgsm_report_and_headers_need_credentials(script: Script, client: httpx.Client) -> None:
    for driver in (masgsm(client, password=None), masgsm(client, username=None)):
        with pytest.raises(ConfigError, match="masgsm needs a username"):
            driver.report("1", [TR1])
        with pytest.raises(ConfigError, match="masgsm needs a username"):
            driver.headers()
    assert script.requests == []


def test_masgsm_report_of_no_numbers_asks_nothing(script: Script, client: httpx.Client) -> None:
    assert masgsm(client).report("98765", []) == []
    with pytest.raises(ValueError, match="id of the send"):
        masgsm(client).report("", [TR1])
    assert script.requests == []


# --- masgsm headers (legacy apiNo=3) ----------------------------------------------------------


@pytest.mark.parametrize("base_url", [MAS_ROOT, MAS_ROOT + "/"])
def test_masgsm_headers_request_is_the_legacy_form(
    script: Script, client: httpx.Client, base_url: str
) -> None:
    script.reply(200, ["ACME"])
    masgsm(client, base_url=base_url).headers()
    request = script.request
    assert request.method == "POST"
    assert str(request.url) == "http://masgsm.com.tr/MasApiV2/"
    assert request.headers["Content-Type"] == FORM
    assert request.content == b"user=5321112233&pass=PASS123&apiNo=3"


def test_masgsm_headers_password_is_form_encoded(script: Script, client: httpx.Client) -> None:
    script.reply(200, [])
    masgsm(client, password="p@ss w&rd/+").headers()
    assert script.request.content == b"user=5321112233&pass=p%40ss+w%26rd%2F%2B&apiNo=3"


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ('["ACME","MASGSMTEST"]', ["ACME", "MASGSMTEST"]),
        (["ACME"], ["ACME"]),
        ([" ACME ", "ACME", "", "TEST"], ["ACME", "TEST"]),
        ([], []),
    ],
)
def test_masgsm_headers_reads_the_array(
    script: Script, client: httpx.Client, body: object, names: list[str]
) -> None:
    script.reply(200, body)
    assert masgsm(client).headers() == [
        Header(name, "masgsm legacy API (apiNo=3)") for name in names
    ]


@pytest.mark.parametrize("status", [200, 403])
@pytest.mark.parametrize("body", ["401", " 401\n", {"code": 401, "message": "hata"}])
def test_masgsm_headers_wrong_credentials(
    script: Script, client: httpx.Client, status: int, body: object
) -> None:
    script.reply(status, body)
    with pytest.raises(AuthError) as caught:
        masgsm(client).headers()
    assert "masgsm: wrong username or password" in caught.value.message
    assert caught.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (200, "400", ["(code 400)"]),
        (200, {"code": 0, "message": "Hata"}, ["(code 0)", "Hata"]),
        (200, HTML, ["unexpected reply (HTTP 200)", "Oops"]),
        (200, "", ["unexpected reply (HTTP 200)", "(empty body)"]),
        (200, {"basliklar": ["ACME"]}, ["unexpected reply (HTTP 200)"]),
        (200, [1, 2], ["unexpected reply (HTTP 200)"]),
        (200, [{"baslik": "ACME"}], ["unexpected reply (HTTP 200)"]),
        (200, "null", ["unexpected reply (HTTP 200)"]),
        (404, HTML, ["unexpected reply (HTTP 404)"]),
        (403, "400", ["(code 400)"]),
    ],
)
def test_masgsm_headers_failure_says_the_legacy_call_failed(
    script: Script, client: httpx.Client, status: int, body: object, words: list[str]
) -> None:
    script.reply(status, body)
    with pytest.raises(ProviderError) as caught:
        masgsm(client).headers()
    assert type(caught.value) is ProviderError
    assert caught.value.message.startswith("masgsm: the legacy header list call (apiNo=3) failed")
    for word in words:
        assert word in caught.value.message


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_masgsm_headers_redirect_is_not_followed(
    script: Script, client: httpx.Client, status: int
) -> None:
    script.reply(status, "", Location="https://masgsm.com.tr/login.php?pass=PASS123&user=x")
    with pytest.raises(ProviderError) as caught:
        masgsm(client).headers()
    assert caught.value.message == (
        "masgsm: the legacy header list call (apiNo=3) failed: HTTP "
        f"{status} redirect to https://masgsm.com.tr/login.php?pass=***&user=x, not followed"
    )
    assert len(script.requests) == 1


def test_masgsm_headers_redirect_without_location(script: Script, client: httpx.Client) -> None:
    script.reply(301, "")
    with pytest.raises(ProviderError, match=r"failed: HTTP 301 redirect, not followed$"):
        masgsm(client).headers()


# --- vairosms report (GonderimBilgisi + NumaraRaporu) -----------------------------------------


def package(paket_durum: object, **extra: object) -> dict[str, object]:
    return {
        "durum": True,
        "aciklama": {
            "id": 123456,
            "sms_baslik": "ACME",
            "numara_toplam": 2,
            "kredi_toplam": 2,
            "sonlanma_zamani": "2024-05-01 12:00:00",
            "ileri_tarih": None,
            "gecerlilik_suresi": 1440,
            "paket_durum": paket_durum,
            "created_at": "2024-05-01 11:00:00",
            **extra,
        },
    }


def number(durum_gonderim: object, numara: str = "5321112233") -> dict[str, object]:
    return {
        "durum": True,
        "aciklama": {
            "id": 77,
            "sms_gonderim_id": 123456,
            "numara": numara,
            "mesaj": "Merhaba",
            "mesaj_boy": 1,
            "durum_gonderim": durum_gonderim,
            "durum_iade": 0,
            "created_at": "2024-05-01 11:00:00",
            "updated_at": "2024-05-01 11:00:05",
        },
    }


NOT_FOUND = {"durum": False, "aciklama": "Kayıt bulunamadı"}


def test_vairosms_report_requests_are_the_documented_calls(
    script: Script, client: httpx.Client
) -> None:
    script.then(200, package(1)).then(200, number("DELIVERED")).then(
        200, number("NOT_DELIVERED", "5441234567")
    )
    result = vairosms(client).report("123456", ["+905321234567", TR2])
    package_call, first, second = script.requests
    assert package_call.method == "GET"
    assert str(package_call.url) == f"{VAIRO_ROOT}/GonderimBilgisi/123456?api_key=KEY123"
    assert package_call.content == b""
    for request, national in ((first, "5321234567"), (second, "5441234567")):
        assert request.method == "POST"
        assert str(request.url) == f"{VAIRO_ROOT}/NumaraRaporu/123456?api_key=KEY123"
        assert request.headers["Content-Type"] == "application/json"
        assert request.content == b'{"numara":"' + national.encode() + b'"}'
    assert states(result) == [
        ("+905321234567", "delivered", "DELIVERED"),
        (TR2, "undelivered", "NOT_DELIVERED"),
    ]


def test_vairosms_report_key_and_id_are_encoded(script: Script, client: httpx.Client) -> None:
    script.then(200, package(1)).then(200, number("DELIVERED"))
    vairosms(client, api_key="p@ss w&rd/+").report("12/34 5", [TR1])
    for request in script.requests:
        assert request.url.params.get_list("api_key") == ["p@ss w&rd/+"]
    assert script.requests[0].url.raw_path.startswith(b"/Panel/api/v1/GonderimBilgisi/12%2F34%205?")
    assert script.requests[1].url.raw_path.startswith(b"/Panel/api/v1/NumaraRaporu/12%2F34%205?")


@pytest.mark.parametrize("paket_durum", [-1, "-1"])
def test_vairosms_failed_package_is_undelivered_without_number_calls(
    script: Script, client: httpx.Client, paket_durum: object
) -> None:
    script.reply(200, package(paket_durum))
    result = vairosms(client).report("123456", [TR1, TR2])
    assert states(result) == [
        (TR1, "undelivered", "package failed (paket_durum -1)"),
        (TR2, "undelivered", "package failed (paket_durum -1)"),
    ]
    assert script.request.method == "GET"


VAIRO_WORDS = [
    ("DELIVERED", "delivered"),
    ("SENT", "delivered"),
    ("delivered", "delivered"),
    ("SENDING", "pending"),
    ("WAITING", "pending"),
    ("NOT_DELIVERED", "undelivered"),
    ("UNDELIVERED", "undelivered"),
    ("EXPIRED", "undelivered"),
    ("INVALID_DESTINATION_ADDRESS", "undelivered"),
    ("REJECTED", "undelivered"),
    ("FAILED", "undelivered"),
    ("BLACKLISTED", "undelivered"),
    ("DUPLICATE", "undelivered"),
    ("IN_PROGRESS", "unknown"),
    ("Beklemede", "unknown"),
]


@pytest.mark.parametrize("paket_durum", [0, 1, "1"])
@pytest.mark.parametrize(("word", "status"), VAIRO_WORDS)
def test_vairosms_report_status_mapping(
    script: Script, client: httpx.Client, paket_durum: object, word: str, status: str
) -> None:
    script.then(200, package(paket_durum)).then(200, number(word))
    assert states(vairosms(client).report("123456", [TR1])) == [(TR1, status, word)]


@pytest.mark.parametrize(
    ("reply_status", "reply"),
    [
        (404, NOT_FOUND),
        (200, NOT_FOUND),
        (404, {"durum": False, "aciklama": "KAYIT BULUNAMADI"}),
        (404, {"durum": False}),
        (200, number(None)),
        (200, number("")),
        (200, {"durum": True, "aciklama": {"id": 77}}),
    ],
)
@pytest.mark.parametrize(
    ("paket_durum", "status", "detail"),
    [
        (0, "pending", "no report yet (paket_durum 0)"),
        (1, "unknown", "vairosms has no report for this number"),
    ],
)
def test_vairosms_number_without_report(
    script: Script,
    client: httpx.Client,
    reply_status: int,
    reply: object,
    paket_durum: int,
    status: str,
    detail: str,
) -> None:
    script.then(200, package(paket_durum)).then(reply_status, reply)
    assert states(vairosms(client).report("123456", [TR1])) == [(TR1, status, detail)]


def test_vairosms_report_non_turkish_number_is_not_asked(
    script: Script, client: httpx.Client
) -> None:
    script.then(200, package(1)).then(200, number("DELIVERED"))
    result = vairosms(client).report("123456", [US1, TR1])
    assert states(result) == [
        (US1, "unknown", "not a Turkish mobile number: vairosms cannot have sent it"),
        (TR1, "delivered", "DELIVERED"),
    ]
    assert len(script.requests) == 2


@pytest.mark.parametrize(
    ("replies", "error", "words"),
    [
        ([(404, NOT_FOUND)], ProviderError,
         ["vairosms has no send with id '123456'", "Kayıt bulunamadı", "HTTP 404"]),
        ([(200, NOT_FOUND)], ProviderError, ["vairosms has no send with id '123456'"]),
        ([(404, {"durum": False, "aciklama": None})], ProviderError,
         ["vairosms has no send with id '123456'"]),
        ([(401, {"durum": False,
                 "aciklama": "Gönderilen api_key bilgisi hatalı, lütfen kontrol edin."})],
         AuthError, ["vairosms rejected the API key", "api_key bilgisi hatalı"]),
        ([(401, HTML)], AuthError, ["vairosms rejected the API key"]),
        ([(200, {"durum": False, "aciklama": "api_key hatalı"})], AuthError,
         ["vairosms rejected the API key"]),
        ([(400, {"durum": False, "aciklama": "Hesabınız askıya alındı"})], ProviderError,
         ["vairosms refused the package report of id '123456'", "Hesabınız askıya alındı"]),
        ([(200, package(1)), (401, {"durum": False, "aciklama": "api_key hatalı"})], AuthError,
         ["vairosms rejected the API key"]),
        ([(200, package(1)), (400, {"durum": False, "aciklama": "Geçersiz numara"})],
         ProviderError, ["vairosms refused the report of +905321112233 in id '123456'",
                         "Geçersiz numara"]),
    ],
)  # fmt: skip
def test_vairosms_report_errors(
    script: Script,
    client: httpx.Client,
    replies: list[tuple[int, object]],
    error: type[SmscliError],
    words: list[str],
) -> None:
    for status, body in replies:
        script.then(status, body)
    with pytest.raises(error) as caught:
        vairosms(client).report("123456", [TR1])
    assert type(caught.value) is error
    for word in words:
        assert word in caught.value.message
    if error is AuthError:
        assert caught.value.exit_code == ExitCode.CONFIG


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, HTML),
        (200, ""),
        (200, []),
        (200, {"durum": "true", "aciklama": {"paket_durum": 1}}),
        (200, {"durum": True, "aciklama": 123456}),
        (200, {"durum": True, "aciklama": {"id": 1}}),
        (200, package(2)),
        (200, package(None)),
        (200, package("bitti")),
        (200, package(True)),
        (404, HTML),
        (301, ""),
    ],
)
def test_vairosms_unreadable_package_reply(
    script: Script, client: httpx.Client, status: int, body: object
) -> None:
    script.reply(status, body)
    with pytest.raises(ProviderError) as caught:
        vairosms(client).report("123456", [TR1])
    assert type(caught.value) is ProviderError
    assert caught.value.message.startswith(
        f"vairosms: unexpected reply to the package report of id '123456' (HTTP {status})"
    )
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, HTML),
        (200, ""),
        (200, {"durum": True, "aciklama": "DELIVERED"}),
        (200, number(1)),
        (200, number(["DELIVERED"])),
        (404, HTML),
    ],
)
def test_vairosms_unreadable_number_reply(
    script: Script, client: httpx.Client, status: int, body: object
) -> None:
    script.then(200, package(1)).then(status, body)
    with pytest.raises(ProviderError) as caught:
        vairosms(client).report("123456", [TR1])
    assert type(caught.value) is ProviderError
    assert caught.value.message.startswith(
        f"vairosms: unexpected reply to the report of {TR1} in id '123456' (HTTP {status})"
    )


def test_vairosms_report_needs_a_key_an_id_and_numbers(
    script: Script, client: httpx.Client
) -> None:
    with pytest.raises(ConfigError, match="vairosms needs an API key"):
        vairosms(client, api_key=None).report("123456", [TR1])
    with pytest.raises(ValueError, match="id of the send"):
        vairosms(client).report("", [TR1])
    assert vairosms(client).report("123456", []) == []
    assert script.requests == []


def test_vairosms_has_no_headers_call(script: Script, client: httpx.Client) -> None:
    with pytest.raises(UnsupportedOperation) as caught:
        vairosms(client).headers()
    assert caught.value.message.startswith("vairosms offers no call to list sender headers; ")
    assert caught.value.exit_code == ExitCode.USAGE
    assert script.requests == []


# --- customersms and the sandbox ------------------------------------------------------------


def test_customersms_has_no_report_or_headers_call(script: Script, client: httpx.Client) -> None:
    driver = customersms(client)
    for call in (lambda: driver.report("x", [TR1]), driver.headers):
        with pytest.raises(UnsupportedOperation) as caught:
            call()
        assert caught.value.message.startswith("customersms offers no ")
        assert caught.value.exit_code == ExitCode.USAGE
    assert script.requests == []


class MemoryState:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value


def sandbox() -> Sandbox:
    return Sandbox(Account("sandbox", Sandbox.default_base_url), None, MemoryState())


def test_sandbox_report_is_pending_first_then_deterministic() -> None:
    numbers = ["+905321230001", "+905321230000", TR1, US1, "+905321230010"]
    expected = [
        ("+905321230001", "undelivered", "sandbox: magic number ...0001"),
        ("+905321230000", "undelivered", "sandbox: rejected (numbers ending in 0000)"),
        (TR1, "delivered", "sandbox: delivered"),
        (US1, "delivered", "sandbox: delivered"),
        ("+905321230010", "delivered", "sandbox: delivered"),
    ]
    state = MemoryState()
    for batch_id in ("any", "other"):
        first = Sandbox(Account("sandbox", Sandbox.default_base_url), None, state)
        assert {d.status for d in first.report(batch_id, numbers)} == {"pending"}
        later = Sandbox(Account("sandbox", Sandbox.default_base_url), None, state)
        assert states(later.report(batch_id, numbers)) == expected
    assert sandbox().report("any", []) == []


def test_sandbox_report_after_send() -> None:
    driver = sandbox()
    numbers = ("+905321230001", "+905321230000", TR1)
    sent = driver.send(Batch(tuple(Message(f"m{i}", n, "hi") for i, n in enumerate(numbers))))
    assert [o.status for o in sent.outcomes] == ["accepted", "failed", "accepted"]
    assert sent.batch_id is not None
    assert {o.message_id for o in sent.outcomes if o.status == "accepted"} == {sent.batch_id}
    later = Sandbox(driver.account, None, driver.state)
    driver.report(sent.batch_id, numbers)  # pending
    assert [d.status for d in later.report(sent.batch_id, numbers)] == [
        "undelivered",
        "undelivered",
        "delivered",
    ]


def test_sandbox_headers() -> None:
    assert sandbox().headers() == [
        Header("SMSCLI", "sandbox (simulated)"),
        Header("SANDBOX", "sandbox (simulated)"),
    ]


# --- canary: no secret in any message of the new calls --------------------------------------


def report_echoes(secret: str) -> list[str]:
    """Report-shaped replies that echo the secret back."""
    said = " ".join(sorted(wire_forms(secret)))
    return [
        json.dumps({"durum": False, "aciklama": f"Kayıt bulunamadı {said}"}),
        json.dumps({"durum": True, "aciklama": {"paket_durum": said}}),
        json.dumps(number(said)),
        json.dumps(number(f"DELIVERED {said}")),
        json.dumps({"Iletilen": said}),
        json.dumps({"Iletilen": [said], "Hatali": [said]}),
        json.dumps({"code": 400, "message": said}),
        json.dumps({"code": 2, "message": said}),
    ]


def report_calls(client: httpx.Client, secret: str) -> Iterator[object]:
    calls: list[Callable[[], object]] = [
        lambda: vairosms(client, api_key=secret).report("123456", [TR1, TR2]),
        lambda: masgsm(client, password=secret).report("98765", [TR1]),
        lambda: masgsm(client, password=secret).headers(),
    ]
    for call in calls:
        try:
            yield call()
        except SmscliError as exc:
            yield exc


def texts_of(produced: object) -> list[str]:
    if isinstance(produced, SmscliError):
        return [str(produced), produced.message, produced.hint or ""]
    return [repr(produced)]


@pytest.mark.parametrize("secret", CANARIES)
def test_no_secret_in_any_report_or_headers_message(
    script: Script, client: httpx.Client, secret: str
) -> None:
    texts: list[str] = []
    bodies = echoes(secret) + report_echoes(secret)
    for status in (200, 301, 400, 401, 403, 404, 500, 502):
        for body in bodies:
            location = f"https://h/x?api_key={quote_plus(secret)}&pass={quote_plus(secret)}"
            script.reply(status, body, Location=location)
            for produced in report_calls(client, secret):
                texts += texts_of(produced)
            # the per-number call of vairosms after a readable package reply
            script.reply(200, package(0)).then(status, body)
            for produced in report_calls(client, secret):
                texts += texts_of(produced)
    for failure in (
        httpx.ConnectError(f"cannot reach https://h/x?api_key={secret}&p={quote_plus(secret)}"),
        httpx.ReadTimeout(f"timed out {secret}"),
        httpx.RemoteProtocolError(f"dropped {secret}"),
    ):
        script.fail(failure)
        for produced in report_calls(client, secret):
            texts += texts_of(produced)
    for form in wire_forms(secret):
        assert not [t for t in texts if form in t], form
    assert any("***" in t for t in texts)


# --- integration: real HTTP against the loopback emulator -----------------------------------


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, follow_redirects=False) as c:
        yield c


def emu_vairosms(emulator: Emulator, http: httpx.Client) -> VairoSms:
    account = Account(
        provider="vairosms", base_url=emulator.base_url("vairosms"), api_key=Emulator.VAIROSMS_KEY
    )
    return VairoSms(account, http, NO_STATE)


def emu_masgsm(
    emulator: Emulator, http: httpx.Client, password: str = Emulator.MASGSM_PASS
) -> MasGsm:
    account = Account(
        provider="masgsm",
        base_url=emulator.base_url("masgsm"),
        username=Emulator.MASGSM_USER,
        password=password,
    )
    return MasGsm(account, http, NO_STATE)


def tr_batch(*numbers: str) -> Batch:
    return Batch(tuple(Message(f"m{i}", n, "Merhaba") for i, n in enumerate(numbers)), "ACME")


DELIVERED, UNDELIVERED, PENDING = "+905321000001", "+905321000002", "+905321000003"


def test_vairosms_report_over_http(emulator: Emulator, http: httpx.Client) -> None:
    emulator.undelivered_numbers.add(UNDELIVERED)
    emulator.pending_numbers.add(PENDING)
    driver = emu_vairosms(emulator, http)
    sent = driver.send(tr_batch(DELIVERED, UNDELIVERED, PENDING))
    assert sent.batch_id is not None
    result = driver.report(sent.batch_id, [DELIVERED, UNDELIVERED, PENDING, TR3])
    assert states(result) == [
        (DELIVERED, "delivered", "DELIVERED"),
        (UNDELIVERED, "undelivered", "NOT_DELIVERED"),
        (PENDING, "pending", "WAITING"),
        (TR3, "pending", "no report yet (paket_durum 0)"),  # not in the send; package sending
    ]
    calls = [(r.method, r.path.rsplit("/", 2)[-2]) for r in emulator.requests]
    assert calls == [("POST", "v1"), ("GET", "GonderimBilgisi")] + [("POST", "NumaraRaporu")] * 4
    assert [json.loads(r.body) for r in emulator.requests[2:]] == [
        {"numara": n[3:]} for n in (DELIVERED, UNDELIVERED, PENDING, TR3)
    ]
    assert emulator.errors == []


def test_vairosms_report_of_a_finished_package_over_http(
    emulator: Emulator, http: httpx.Client
) -> None:
    emulator.reject_numbers.add(UNDELIVERED)
    driver = emu_vairosms(emulator, http)
    sent = driver.send(tr_batch(DELIVERED, UNDELIVERED))
    assert sent.batch_id is not None
    assert states(driver.report(sent.batch_id, [DELIVERED, UNDELIVERED, TR3])) == [
        (DELIVERED, "delivered", "DELIVERED"),
        (UNDELIVERED, "undelivered", "NOT_DELIVERED"),
        (TR3, "unknown", "vairosms has no report for this number"),
    ]


def test_vairosms_report_errors_over_http(emulator: Emulator, http: httpx.Client) -> None:
    driver = emu_vairosms(emulator, http)
    with pytest.raises(ProviderError, match="vairosms has no send with id '424242'"):
        driver.report("424242", [TR1])
    wrong = VairoSms(
        Account("vairosms", emulator.base_url("vairosms"), api_key="nope"), http, NO_STATE
    )
    with pytest.raises(AuthError, match="vairosms rejected the API key"):
        wrong.report("424242", [TR1])


def test_masgsm_report_over_http(emulator: Emulator, http: httpx.Client) -> None:
    emulator.undelivered_numbers.add(UNDELIVERED)
    emulator.pending_numbers.add(PENDING)
    driver = emu_masgsm(emulator, http)
    sent = driver.send(tr_batch(DELIVERED, UNDELIVERED, PENDING))
    assert sent.batch_id is not None
    result = driver.report(sent.batch_id, [PENDING, DELIVERED, UNDELIVERED, TR3])
    assert states(result) == [
        (PENDING, "pending", "Bekleyen"),
        (DELIVERED, "delivered", "Iletilen"),
        (UNDELIVERED, "undelivered", "Hatali"),
        (TR3, "unknown", "not in masgsm's report"),
    ]
    report_request = emulator.requests[-1]
    assert report_request.form == {
        "type": "2",
        "u": Emulator.MASGSM_USER,
        "p": Emulator.MASGSM_PASS,
        "id": sent.batch_id,
    }
    assert emulator.errors == []


def test_masgsm_report_wrong_password_over_http(emulator: Emulator, http: httpx.Client) -> None:
    with pytest.raises(AuthError, match="masgsm: wrong username or password"):
        emu_masgsm(emulator, http, password="nope").report("1", [TR1])


def test_masgsm_headers_over_http(emulator: Emulator, http: httpx.Client) -> None:
    emulator.headers["masgsm"] = ["ACME", "MASGSMTEST"]
    assert emu_masgsm(emulator, http).headers() == [
        Header("ACME", "masgsm legacy API (apiNo=3)"),
        Header("MASGSMTEST", "masgsm legacy API (apiNo=3)"),
    ]
    [request] = emulator.requests
    assert (request.method, request.path) == ("POST", "/masgsm/MasApiV2/")
    assert request.form == {
        "user": Emulator.MASGSM_USER,
        "pass": Emulator.MASGSM_PASS,
        "apiNo": "3",
    }
    with pytest.raises(AuthError, match="masgsm: wrong username or password"):
        emu_masgsm(emulator, http, password="nope").headers()
