"""The three HTTP drivers against a mock transport, written from the provider pages in
``shared/providers/`` and the decisions in ``shared/providers/NOTES.md``.

Each test gives a driver an ``httpx.MockTransport`` that records the request and answers with a
canned reply, then checks the exact request on the wire and what the driver made of the reply.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscli import providers
from smscli.errors import (
    AuthError,
    ConfigError,
    CreditError,
    ExitCode,
    InputError,
    NotSent,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
    RecipientError,
    SenderError,
    SmscliError,
    UnsupportedOperation,
)
from smscli.http import form_encode
from smscli.providers.base import Account, Batch, BatchResult, Capabilities, Message, Outcome
from smscli.providers.customersms import CustomerSms
from smscli.providers.masgsm import MasGsm
from smscli.providers.vairosms import VairoSms
from smscli.redact import Redactor

TR1, TR2, TR3 = "+905321112233", "+905441234567", "+905059876543"
US1, US2 = "+12125551234", "+13235554567"
HTML = "<!DOCTYPE html><html><head><title>Error</title></head><body><h1>Oops</h1></body></html>"


class _NoState:
    def get(self, key: str) -> str | None:
        return None


NO_STATE = _NoState()


# --- the mock server ------------------------------------------------------------------------


@dataclass
class Server:
    """Answers every request with the configured reply (or raises the configured error)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def reply(self, status: int, body: object = "", **headers: str) -> None:
        """Answer with ``body``: a str as it is, anything else as JSON."""
        self.status, self.headers, self.error = status, headers, None
        self.body = (body if isinstance(body, str) else json.dumps(body)).encode()

    def fail(self, error: Exception) -> None:
        self.error = error

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return httpx.Response(self.status, content=self.body, headers=self.headers)

    @property
    def request(self) -> httpx.Request:
        assert len(self.requests) == 1, f"expected one request, got {len(self.requests)}"
        return self.requests[0]


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(server.handle)) as c:
        yield c


def customersms(
    client: httpx.Client, *, api_key: str | None = "KEY123", base_url: str = ""
) -> CustomerSms:
    url = base_url or CustomerSms.default_base_url
    return CustomerSms(Account("customersms", url, api_key=api_key), client, NO_STATE)


def vairosms(
    client: httpx.Client, *, api_key: str | None = "KEY123", base_url: str = ""
) -> VairoSms:
    url = base_url or VairoSms.default_base_url
    return VairoSms(Account("vairosms", url, api_key=api_key), client, NO_STATE)


def masgsm(
    client: httpx.Client,
    *,
    username: str | None = "5321112233",
    password: str | None = "PASS123",
    base_url: str = "",
) -> MasGsm:
    url = base_url or MasGsm.default_base_url
    return MasGsm(Account("masgsm", url, username=username, password=password), client, NO_STATE)


def batch(
    *to: str,
    text: str = "Merhaba",
    texts: tuple[str, ...] = (),
    sender: str | None = None,
    turkish: bool = False,
) -> Batch:
    """Messages keyed m0, m1, ...; ``texts`` gives each number its own text."""
    bodies = texts or (text,) * len(to)
    pairs = zip(to, bodies, strict=True)
    return Batch(tuple(Message(f"m{i}", n, t) for i, (n, t) in enumerate(pairs)), sender, turkish)


def statuses(result: BatchResult) -> dict[str, tuple[str, str | None]]:
    return {o.key: (o.status, o.message_id) for o in result.outcomes}


# --- all three drivers: registry and the undocumented replies -------------------------------

Driver = CustomerSms | VairoSms | MasGsm


@dataclass(frozen=True)
class Case:
    """How to build one driver and a batch it would send."""

    make: Callable[[httpx.Client], Driver]
    batch: Batch

    def send(self, client: httpx.Client) -> BatchResult:
        return self.make(client).send(self.batch)


CASES = {
    "customersms": Case(customersms, batch(TR1, US1)),
    "vairosms": Case(vairosms, batch(TR1, TR2, sender="ACME")),
    "masgsm": Case(masgsm, batch(TR1, TR2, sender="ACME")),
}


@pytest.mark.parametrize(
    ("name", "cls"), [("customersms", CustomerSms), ("vairosms", VairoSms), ("masgsm", MasGsm)]
)
def test_registry_names_the_driver(name: str, cls: type) -> None:
    assert providers.get(name) is cls
    assert cls.name == name


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    ("status", "body", "error", "exit_code"),
    [
        (200, HTML, OutcomeUnknown, ExitCode.UNKNOWN),
        (200, "", OutcomeUnknown, ExitCode.UNKNOWN),
        (200, "OK", OutcomeUnknown, ExitCode.UNKNOWN),
        (200, [], OutcomeUnknown, ExitCode.UNKNOWN),
        (200, {"status": "ok"}, OutcomeUnknown, ExitCode.UNKNOWN),
        (200, "null", OutcomeUnknown, ExitCode.UNKNOWN),
        # A page or a redirect may come after the request was processed (issue 26).
        (404, HTML, OutcomeUnknown, ExitCode.UNKNOWN),
        (403, HTML, OutcomeUnknown, ExitCode.UNKNOWN),
        (400, "", OutcomeUnknown, ExitCode.UNKNOWN),
        (301, "", OutcomeUnknown, ExitCode.UNKNOWN),
        (500, HTML, OutcomeUnknown, ExitCode.UNKNOWN),
        (502, "Bad Gateway", OutcomeUnknown, ExitCode.UNKNOWN),
        (504, "", OutcomeUnknown, ExitCode.UNKNOWN),
    ],
)
def test_undocumented_reply_is_never_success(
    server: Server,
    client: httpx.Client,
    name: str,
    status: int,
    body: object,
    error: type[SmscliError],
    exit_code: ExitCode,
) -> None:
    server.reply(status, body)
    with pytest.raises(error) as caught:
        CASES[name].send(client)
    assert type(caught.value) is error
    assert caught.value.exit_code == exit_code
    assert caught.value.message.startswith(f"{name}:")


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [(429, {"Retry-After": "30"}, 30.0), (429, {}, None), (503, {"Retry-After": "5"}, 5.0)],
)
def test_rate_limit_is_raised_with_retry_after(
    server: Server,
    client: httpx.Client,
    name: str,
    status: int,
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    server.reply(status, "slow down", **headers)
    with pytest.raises(RateLimited) as caught:
        CASES[name].send(client)
    assert caught.value.retry_after == retry_after
    assert name in caught.value.message


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.ConnectError("connection refused"), NotSent),
        (httpx.ConnectTimeout("connect timed out"), NotSent),
        (httpx.ReadTimeout("read timed out"), OutcomeUnknown),
        (httpx.RemoteProtocolError("server disconnected"), OutcomeUnknown),
    ],
)
def test_transport_failures(
    server: Server, client: httpx.Client, name: str, failure: Exception, error: type[SmscliError]
) -> None:
    server.fail(failure)
    with pytest.raises(error) as caught:
        CASES[name].send(client)
    assert type(caught.value) is error
    assert name in caught.value.message
    assert len(server.requests) == 1


@pytest.mark.parametrize("name", CASES)
def test_base_url_is_the_root_of_the_documented_path(
    server: Server, client: httpx.Client, name: str
) -> None:
    server.fail(httpx.ConnectError("refused"))
    case = CASES[name]
    account = Account(name, "http://127.0.0.1:8099/emu/", "KEY123", "5321112233", "PASS123")
    with pytest.raises(NotSent):
        type(case.make(client))(account, client, NO_STATE).send(case.batch)
    path = {
        "customersms": "/sms_system/api.php",
        "vairosms": "/SmsGonder",
        "masgsm": "/api_post.php",
    }
    assert server.request.url.copy_with(query=None) == "http://127.0.0.1:8099/emu" + path[name]


# --- customersms ----------------------------------------------------------------------------


def test_customersms_request_is_the_documented_json(server: Server, client: httpx.Client) -> None:
    server.reply(200, {"success": True, "results": []})
    customersms(client).send(batch(TR1, US1, text="Merhaba dünya", sender="ACME", turkish=True))
    request = server.request
    assert request.method == "POST"
    assert str(request.url) == "https://customersms.pro/sms_system/api.php"
    assert request.headers["Content-Type"] == "application/json"
    assert request.content.decode() == (
        '{"api_key":"KEY123","phone":["+905321112233","+12125551234"],"message":"Merhaba dünya"}'
    )


def test_customersms_refuses_a_batch_of_different_texts(
    server: Server, client: httpx.Client
) -> None:
    with pytest.raises(ValueError, match="one text per request"):
        customersms(client).send(batch(TR1, US1, texts=("a", "b")))
    assert server.requests == []


def test_customersms_without_api_key_is_a_config_error(
    server: Server, client: httpx.Client
) -> None:
    with pytest.raises(ConfigError, match="customersms needs an API key"):
        customersms(client, api_key=None).send(batch(TR1))
    assert server.requests == []


def test_customersms_documented_success(server: Server, client: httpx.Client) -> None:
    server.reply(
        200,
        {
            "success": True,
            "message": "SMS sending completed",
            "total_numbers": 2,
            "successful_sends": 2,
            "failed_sends": 0,
            "remaining_credits": 98,
            "results": [
                {"phone": "+12125551234", "success": True, "message_id": "msg_123456"},
                {"phone": "+13235554567", "success": True, "message_id": "msg_123457"},
            ],
        },
    )
    result = customersms(client).send(batch(US2, US1))
    assert statuses(result) == {"m0": ("accepted", "msg_123457"), "m1": ("accepted", "msg_123456")}
    assert result.credits_remaining == 98.0
    assert result.batch_id is None


@pytest.mark.parametrize(
    "written",
    [
        "+905321112233",
        "905321112233",
        "05321112233",
        "5321112233",
        "+90 532 111 22 33",
        "00905321112233",
    ],
)
def test_customersms_matches_numbers_by_digits(
    server: Server, client: httpx.Client, written: str
) -> None:
    server.reply(
        200,
        {
            "success": True,
            "results": [
                {"phone": "+905441234567", "success": False},
                {"phone": written, "success": True, "message_id": 77},
            ],
        },
    )
    result = customersms(client).send(batch(TR2, TR1))
    assert statuses(result) == {"m0": ("failed", None), "m1": ("accepted", "77")}


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        # in our order until the third entry, which is the fourth number in national form
        (
            [(US1, "a"), (US2, "b"), ("05059876543", "d"), (TR2, "c")],
            {"m0": "a", "m1": "b", "m2": "c", "m3": "d"},
        ),
        # a number repeated: its first entry counts, and the one it displaced is unreported
        ([(US1, "a"), (US1, "x"), (TR2, "c")], {"m0": "a", "m2": "c"}),
        # fewer entries than numbers, all in order: the rest are unreported
        ([(US1, "a"), (US2, "b")], {"m0": "a", "m1": "b"}),
        # more entries than numbers: the extra one is not ours
        (
            [(US1, "a"), (US2, "b"), (TR2, "c"), (TR3, "d"), ("+905550000000", "e")],
            {"m0": "a", "m1": "b", "m2": "c", "m3": "d"},
        ),
    ],
)
def test_customersms_matches_in_order_then_by_number(
    server: Server, client: httpx.Client, results: list[tuple[str, str]], expected: dict
) -> None:
    server.reply(
        200,
        {
            "success": True,
            "results": [
                {"phone": phone, "success": True, "message_id": mid} for phone, mid in results
            ],
        },
    )
    result = customersms(client).send(batch(US1, US2, TR2, TR3))
    assert [o.key for o in result.outcomes] == ["m0", "m1", "m2", "m3"]
    assert statuses(result) == {
        key: ("accepted", expected[key]) if key in expected else ("unknown", None)
        for key in ("m0", "m1", "m2", "m3")
    }


def test_customersms_failed_entries_keep_their_reason(server: Server, client: httpx.Client) -> None:
    server.reply(
        200,
        {
            "success": True,
            "remaining_credits": "97.5",
            "results": [
                {"phone": TR1, "success": False, "error": "Invalid   phone\nnumber"},
                {"phone": TR2, "success": False, "message": "Blacklisted"},
                {"phone": TR3, "success": False},
            ],
        },
    )
    result = customersms(client).send(batch(TR1, TR2, TR3))
    assert [(o.status, o.error) for o in result.outcomes] == [
        ("failed", "customersms: Invalid phone number"),
        ("failed", "customersms: Blacklisted"),
        ("failed", "rejected by customersms"),
    ]
    assert result.credits_remaining == 97.5


def test_customersms_number_missing_from_results_is_unknown(
    server: Server, client: httpx.Client
) -> None:
    server.reply(
        200,
        {
            "success": True,
            "results": [
                {"phone": TR1, "success": True, "message_id": "a"},
                {"phone": "+905550000000", "success": True, "message_id": "not ours"},
            ],
        },
    )
    result = customersms(client).send(batch(TR1, TR2))
    first, second = result.outcomes
    assert first == Outcome("m0", "accepted", "a")
    assert second.status == "unknown" and second.message_id is None
    assert second.error is not None and "customersms" in second.error
    assert "may have been sent" in second.error


def test_customersms_failure_reply_with_results_is_read_per_number(
    server: Server, client: httpx.Client
) -> None:
    server.reply(
        200,
        {
            "success": False,
            "error": "Insufficient credits",
            "code": "INSUFFICIENT_CREDITS",
            "remaining_credits": 0,
            "results": [
                {"phone": TR1, "success": True, "message_id": "x1"},
                {"phone": TR2, "success": False, "error": "Insufficient credits"},
            ],
        },
    )
    result = customersms(client).send(batch(TR1, TR2))
    assert statuses(result) == {"m0": ("accepted", "x1"), "m1": ("failed", None)}
    assert result.credits_remaining == 0.0


@pytest.mark.parametrize("status", [200, 400, 402, 403])
@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        (
            {"success": False, "error": "Invalid or inactive API key", "code": "INVALID_API_KEY"},
            AuthError,
            ["customersms rejected the API key", "Invalid or inactive API key"],
        ),
        (
            {"success": False, "error": "Insufficient credits", "code": "INSUFFICIENT_CREDITS"},
            CreditError,
            ["customersms", "INSUFFICIENT_CREDITS"],
        ),
        (
            {"success": False, "error": "Not enough balance", "code": "E42"},
            CreditError,
            ["customersms", "Not enough balance"],
        ),
        # Codes customersms does not document: the request may have been processed.
        (
            {"success": False, "error": "Message is required", "code": "MISSING_MESSAGE"},
            OutcomeUnknown,
            ["customersms", "not documented as a refusal", "MISSING_MESSAGE", "Message is"],
        ),
        ({"success": False}, OutcomeUnknown, ["customersms", '"success": false']),
    ],
)
def test_customersms_error_replies(
    server: Server,
    client: httpx.Client,
    status: int,
    body: object,
    error: type[SmscliError],
    words: list[str],
) -> None:
    server.reply(status, body)
    with pytest.raises(error) as caught:
        customersms(client).send(batch(TR1))
    assert type(caught.value) is error
    for word in words:
        assert word in caught.value.message
    if error is AuthError:
        assert caught.value.exit_code == ExitCode.CONFIG
        assert caught.value.hint is not None and "SMSCLI_API_KEY" in caught.value.hint


@pytest.mark.parametrize(
    "body",
    [
        {"success": False, "error": "Unauthorized"},
        {"success": False, "error": "Key revoked", "code": "KEY_REVOKED"},
    ],
)
def test_customersms_401_failure_is_an_auth_error(
    server: Server, client: httpx.Client, body: object
) -> None:
    server.reply(401, body)
    with pytest.raises(AuthError, match="customersms rejected the API key"):
        customersms(client).send(batch(TR1))


@pytest.mark.parametrize("status", [200, 400, 404])
@pytest.mark.parametrize(
    "body",
    [
        {"success": True},
        {"success": True, "results": {"phone": TR1}},
        {"success": True, "results": [{"phone": TR1}]},
        {"success": True, "results": ["+905321112233"]},
        {"success": False, "error": "partly", "results": [{"phone": TR1, "success": "yes"}]},
    ],
)
def test_customersms_success_it_cannot_read_is_unknown_whatever_the_status(
    server: Server, client: httpx.Client, body: object, status: int
) -> None:
    server.reply(status, body)
    with pytest.raises(OutcomeUnknown, match="customersms: unexpected reply") as caught:
        customersms(client).send(batch(TR1))
    assert "may have taken" in caught.value.message


def test_customersms_wrong_shape_is_unreadable(server: Server, client: httpx.Client) -> None:
    server.reply(200, {"success": "true", "results": []})
    with pytest.raises(OutcomeUnknown, match="customersms: unexpected reply"):
        customersms(client).send(batch(TR1))


@pytest.mark.parametrize(
    ("value", "credits"),
    [(98, 98.0), ("98", 98.0), (" 12.5 ", 12.5), ("nan", None), ("inf", None), ("-inf", None),
     ("Infinity", None), (1e999, None), (float("nan"), None), (10**400, None), (True, None),
     ("bol", None), (None, None)],
)  # fmt: skip
def test_customersms_remaining_credits_only_when_finite(
    server: Server, client: httpx.Client, value: object, credits: float | None
) -> None:
    body = {"success": True, "remaining_credits": value, "results": [{"phone": TR1,
            "success": True, "message_id": "m1"}]}  # fmt: skip
    server.status, server.body = 200, json.dumps(body).encode()
    result = customersms(client).send(batch(TR1))
    assert result.credits_remaining == credits
    assert [o.status for o in result.outcomes] == ["accepted"]


def test_customersms_has_no_balance_call(server: Server, client: httpx.Client) -> None:
    with pytest.raises(UnsupportedOperation, match="customersms offers no balance call") as caught:
        customersms(client).balance()
    assert caught.value.exit_code == ExitCode.USAGE
    assert server.requests == []


def test_customersms_takes_any_number(client: httpx.Client) -> None:
    driver = customersms(client)
    assert driver.check_recipient(US1) is None
    assert driver.check_recipient(TR1) is None


# --- vairosms -------------------------------------------------------------------------------

VAIRO_OK = {"durum": True, "aciklama": 123456}


@pytest.mark.parametrize(
    ("turkish", "body"),
    [
        (
            False,
            '{"baslik":"ACME","mesajlar":[{"msg":"safasfsa","dest":"905321112233"},'
            '{"msg":"deneme","dest":"905441234567"}]}',
        ),
        (
            True,
            '{"baslik":"ACME","tr_char":true,"mesajlar":[{"msg":"safasfsa","dest":"905321112233"},'
            '{"msg":"deneme","dest":"905441234567"}]}',
        ),
    ],
)
def test_vairosms_request_is_the_documented_json(
    server: Server, client: httpx.Client, turkish: bool, body: str
) -> None:
    server.reply(200, VAIRO_OK)
    vairosms(client).send(
        batch(TR1, TR2, texts=("safasfsa", "deneme"), sender="ACME", turkish=turkish)
    )
    request = server.request
    assert request.method == "POST"
    assert str(request.url) == "https://vairosms.com/Panel/api/v1/SmsGonder?api_key=KEY123"
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == body.encode()


def test_vairosms_sends_turkish_text_as_utf8(server: Server, client: httpx.Client) -> None:
    server.reply(200, VAIRO_OK)
    vairosms(client).send(batch(TR1, text="Şeker ğ ı", sender="BAŞLIK", turkish=True))
    assert json.loads(server.request.content) == {
        "baslik": "BAŞLIK",
        "tr_char": True,
        "mesajlar": [{"msg": "Şeker ğ ı", "dest": "905321112233"}],
    }


def test_vairosms_api_key_is_query_encoded(server: Server, client: httpx.Client) -> None:
    server.reply(200, VAIRO_OK)
    vairosms(client, api_key="p@ss w&rd/+").send(batch(TR1, sender="ACME"))
    assert server.request.url.params.get_list("api_key") == ["p@ss w&rd/+"]


@pytest.mark.parametrize("aciklama", [123456, "123456"])
def test_vairosms_documented_success(
    server: Server, client: httpx.Client, aciklama: object
) -> None:
    server.reply(200, {"durum": True, "aciklama": aciklama})
    result = vairosms(client).send(batch(TR1, TR2, sender="ACME"))
    assert statuses(result) == {"m0": ("accepted", "123456"), "m1": ("accepted", "123456")}
    assert result.batch_id == "123456"
    assert result.credits_remaining is None


@pytest.mark.parametrize("sender", [None, ""])
def test_vairosms_needs_a_sender(server: Server, client: httpx.Client, sender: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        vairosms(client).send(batch(TR1, sender=sender))
    assert caught.value.message == (
        "vairosms needs a sender header (başlık): set sender in the profile, "
        "SMSCLI_SENDER or --sender"
    )
    assert caught.value.exit_code == ExitCode.CONFIG
    assert server.requests == []


def test_vairosms_without_api_key_is_a_config_error(server: Server, client: httpx.Client) -> None:
    with pytest.raises(ConfigError, match="vairosms needs an API key"):
        vairosms(client, api_key=None).send(batch(TR1, sender="ACME"))
    assert server.requests == []


def test_vairosms_only_turkish_mobiles(server: Server, client: httpx.Client) -> None:
    driver = vairosms(client)
    assert driver.check_recipient(TR1) is None
    for number in (US1, "+902121234567"):
        reason = driver.check_recipient(number)
        assert reason is not None and "vairosms" in reason and "Turkish mobile" in reason
    with pytest.raises(InputError, match=r"vairosms .*\+12125551234"):
        driver.send(batch(TR1, US1, sender="ACME"))
    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "aciklama", "error", "words"),
    [
        (401, "Gönderilen api_key bilgisi hatalı, lütfen kontrol edin.", AuthError,
         ["vairosms rejected the API key", "api_key bilgisi hatalı"]),
        (200, "Gönderilen api_key bilgisi hatalı, lütfen kontrol edin.", AuthError,
         ["vairosms rejected the API key"]),
        (400, "INVALID_SOURCE_ADDRESS", SenderError, ["vairosms", "'ACME'", "başlık"]),
        (400, "MISSING_MESSAGE", InputError, ["vairosms", "message", "MISSING_MESSAGE"]),
        (400, "MESSAGE_TOO_LONG", InputError, ["vairosms", "too long", "MESSAGE_TOO_LONG"]),
        (400, "MISSING_DESTINATION_ADDRESS", RecipientError,
         ["vairosms", "MISSING_DESTINATION_ADDRESS", TR1, TR2]),
        (400, "INVALID_DESTINATION_ADDRESS", RecipientError,
         ["vairosms", "INVALID_DESTINATION_ADDRESS", TR1, TR2]),
        # Wordings vairosms does not document: the request may have been processed.
        (400, "Hesabınız askıya alındı", OutcomeUnknown,
         ["vairosms", "not documented as a refusal", "Hesabınız askıya alındı"]),
        (200, "Yetersiz kredi", CreditError, ["insufficient credit", "Yetersiz kredi"]),
        (400, "Bir hata oluştu", OutcomeUnknown, ["not documented as a refusal", "Bir hata"]),
    ],
)  # fmt: skip
def test_vairosms_documented_errors(
    server: Server,
    client: httpx.Client,
    status: int,
    aciklama: str,
    error: type[SmscliError],
    words: list[str],
) -> None:
    server.reply(status, {"durum": False, "aciklama": aciklama})
    with pytest.raises(error) as caught:
        vairosms(client).send(batch(TR1, TR2, sender="ACME"))
    assert type(caught.value) is error
    for word in words:
        assert word in caught.value.message
    expected_exit = {
        AuthError: ExitCode.CONFIG,
        SenderError: ExitCode.CONFIG,
        InputError: ExitCode.BAD_INPUT,
        RecipientError: ExitCode.BAD_INPUT,
        CreditError: ExitCode.CREDIT,
        OutcomeUnknown: ExitCode.UNKNOWN,
    }
    assert caught.value.exit_code == expected_exit[error]


def test_vairosms_401_is_an_auth_error_with_its_documented_body(
    server: Server, client: httpx.Client
) -> None:
    server.reply(401, {"durum": False, "aciklama": "Yetkisiz"})
    with pytest.raises(AuthError, match="vairosms rejected the API key: Yetkisiz"):
        vairosms(client).send(batch(TR1, sender="ACME"))
    server.reply(401, HTML)  # a page, not vairosms's refusal: the send may have been processed
    with pytest.raises(OutcomeUnknown, match=r"unexpected reply \(HTTP 401\)"):
        vairosms(client).send(batch(TR1, sender="ACME"))


def test_vairosms_recipient_error_shortens_a_long_list(
    server: Server, client: httpx.Client
) -> None:
    numbers = [f"+9053200000{i:02d}" for i in range(25)]
    server.reply(400, {"durum": False, "aciklama": "INVALID_DESTINATION_ADDRESS"})
    with pytest.raises(RecipientError) as caught:
        vairosms(client).send(batch(*numbers, sender="ACME"))
    assert numbers[9] in caught.value.message
    assert numbers[10] not in caught.value.message
    assert caught.value.message.endswith("and 15 more")


@pytest.mark.parametrize(
    "body",
    [
        {"durum": True},
        {"durum": True, "aciklama": ""},
        {"durum": True, "aciklama": None},
        {"durum": True, "aciklama": True},
        {"durum": True, "aciklama": {"id": 1}},
        {"durum": "true", "aciklama": 1},
        {"aciklama": 1},
    ],
)
def test_vairosms_wrong_shape_is_unreadable(
    server: Server, client: httpx.Client, body: object
) -> None:
    server.reply(200, body)
    with pytest.raises(OutcomeUnknown, match="vairosms: unexpected reply"):
        vairosms(client).send(batch(TR1, sender="ACME"))


@pytest.mark.parametrize("status", [200, 202, 400, 404])
@pytest.mark.parametrize("aciklama", ["", None, True, {"id": 1}, [1]])
def test_vairosms_durum_true_without_an_id_is_unknown_whatever_the_status(
    server: Server, client: httpx.Client, status: int, aciklama: object
) -> None:
    server.reply(status, {"durum": True, "aciklama": aciklama})
    with pytest.raises(OutcomeUnknown, match="vairosms: unexpected reply") as caught:
        vairosms(client).send(batch(TR1, sender="ACME"))
    assert "durum true" in caught.value.message


@pytest.mark.parametrize(
    ("aciklama", "error"),
    [
        ("invalid_source_address", SenderError),
        ("Invalıd_Source_Address", SenderError),
        ("İNVALİD_DESTİNATİON_ADDRESS", RecipientError),
        ("message_too_long", InputError),
        ("API_KEY HATALI", AuthError),
        ("Gönderilen APİ_KEY bilgisi hatalı", AuthError),
    ],
)
def test_vairosms_codes_in_any_case_form(
    server: Server, client: httpx.Client, aciklama: str, error: type[SmscliError]
) -> None:
    server.reply(400, {"durum": False, "aciklama": aciklama})
    with pytest.raises(error):
        vairosms(client).send(batch(TR1, sender="ACME"))


def test_vairosms_has_no_balance_call(server: Server, client: httpx.Client) -> None:
    with pytest.raises(UnsupportedOperation, match="vairosms offers no balance call"):
        vairosms(client).balance()
    assert server.requests == []


# --- masgsm ---------------------------------------------------------------------------------

MAS_OK = {"code": 1, "message": "OK", "id": "98765"}
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("sms", "form"),
    [
        (
            batch(TR1, TR2, text="Merhaba dünya", sender="ACME"),
            "type=0&u=5321112233&p=PASS123&message=Merhaba+d%C3%BCnya&title=ACME"
            "&numbers=5321112233%2C5441234567",
        ),
        (
            batch(TR1, text="Şeker ğ ı", sender="ACME", turkish=True),
            "type=0&u=5321112233&p=PASS123&message=%C5%9Eeker+%C4%9F+%C4%B1&title=ACME"
            "&numbers=5321112233&lang=tr",
        ),
        (
            batch(TR1, TR2, TR3, texts=("Ali bey", "Ayşe hanım", "a&b=c"), sender="ACME"),
            "type=1&u=5321112233&p=PASS123&message%5B0%5D=Ali+bey"
            "&message%5B1%5D=Ay%C5%9Fe+han%C4%B1m&message%5B2%5D=a%26b%3Dc&title=ACME"
            "&numbers=5321112233%2C5441234567%2C5059876543",
        ),
        (
            batch(TR1, TR2, texts=("bir", "iki"), sender="ACME", turkish=True),
            "type=1&u=5321112233&p=PASS123&message%5B0%5D=bir&message%5B1%5D=iki&title=ACME"
            "&numbers=5321112233%2C5441234567&lang=tr",
        ),
    ],
)
def test_masgsm_request_is_the_documented_form(
    server: Server, client: httpx.Client, sms: Batch, form: str
) -> None:
    server.reply(200, MAS_OK)
    masgsm(client).send(sms)
    request = server.request
    assert request.method == "POST"
    assert str(request.url) == "http://masgsm.com.tr/MasApiV2/api_post.php"
    assert request.headers["Content-Type"] == FORM
    assert request.content.decode("ascii") == form


def test_masgsm_type_1_is_a_php_array_matched_to_numbers(
    server: Server, client: httpx.Client
) -> None:
    server.reply(200, MAS_OK)
    masgsm(client).send(batch(TR2, TR1, texts=("ikinci", "birinci"), sender="ACME"))
    fields = parse_qsl(server.request.content.decode(), strict_parsing=True)
    assert "message" not in dict(fields)
    numbers = dict(fields)["numbers"].split(",")
    texts = {k: v for k, v in fields if k.startswith("message[")}
    assert dict(zip(numbers, texts.values(), strict=True)) == {
        "5441234567": "ikinci",
        "5321112233": "birinci",
    }
    assert list(texts) == ["message[0]", "message[1]"]


def test_masgsm_password_is_form_encoded(server: Server, client: httpx.Client) -> None:
    server.reply(200, MAS_OK)
    masgsm(client, password="p@ss w&rd/+").send(batch(TR1, sender="ACME"))
    assert "&p=p%40ss+w%26rd%2F%2B&" in server.request.content.decode()
    assert dict(parse_qsl(server.request.content.decode()))["p"] == "p@ss w&rd/+"


@pytest.mark.parametrize(
    "body",
    [
        {"code": 1, "message": "Başarılı", "id": "98765"},
        {"code": "1", "id": 98765},
        "1 98765",
        "1|98765",
        "1:98765",
        "1,98765",
        "1;98765",
        " 1 | 98765\r\n",
    ],
)
def test_masgsm_success_replies(server: Server, client: httpx.Client, body: object) -> None:
    server.reply(200, body)
    result = masgsm(client).send(batch(TR1, TR2, sender="ACME"))
    assert statuses(result) == {"m0": ("accepted", "98765"), "m1": ("accepted", "98765")}
    assert result.batch_id == "98765"


@pytest.mark.parametrize("body", ["1", "1\n", {"code": 1, "message": "OK"}])
def test_masgsm_success_without_id(server: Server, client: httpx.Client, body: object) -> None:
    server.reply(200, body)
    result = masgsm(client).send(batch(TR1, sender="ACME"))
    assert result.outcomes == (Outcome("m0", "accepted", None, None),)
    assert result.batch_id is None


@pytest.mark.parametrize("body", ["0", {"code": 0, "message": "Gönderim Hatası"}])
def test_masgsm_code_0_fails_every_message(
    server: Server, client: httpx.Client, body: object
) -> None:
    server.reply(200, body)
    result = masgsm(client).send(batch(TR1, TR2, sender="ACME"))
    assert [o.status for o in result.outcomes] == ["failed", "failed"]
    for outcome in result.outcomes:
        assert outcome.message_id is None
        assert outcome.error is not None
        assert outcome.error.startswith("masgsm: sending error (code 0)")


@pytest.mark.parametrize("body", ["3", "3 555", {"code": "3", "message": "Yetersiz", "id": 555}])
def test_masgsm_code_3_leaves_every_message_in_doubt(
    server: Server, client: httpx.Client, body: object
) -> None:
    server.reply(200, body)
    result = masgsm(client).send(batch(TR1, TR2, sender="ACME"))
    assert [o.status for o in result.outcomes] == ["unknown", "unknown"]
    for outcome in result.outcomes:
        assert outcome.error is not None
        assert "masgsm" in outcome.error and "does not say to which numbers" in outcome.error
        assert "smscli report" in outcome.error


MAS_ERRORS = [
    (2, CreditError, ExitCode.CREDIT, ["masgsm", "insufficient balance", "nothing sent"]),
    (400, ProviderError, ExitCode.PROVIDER,
     ["masgsm", "missing parameter (user, password, message, header or numbers)"]),
    (401, AuthError, ExitCode.CONFIG, ["masgsm", "wrong username or password"]),
    (402, SenderError, ExitCode.CONFIG, ["masgsm", "invalid", "header", "'ACME'"]),
    (403, SenderError, ExitCode.CONFIG, ["masgsm", "forbidden", "header", "'ACME'"]),
    (405, RecipientError, ExitCode.BAD_INPUT,
     ["masgsm", "invalid number format", "5xxxxxxxxx", TR1, TR2]),
]  # fmt: skip


@pytest.mark.parametrize("form", ["json", "plain"])
@pytest.mark.parametrize(("code", "error", "exit_code", "words"), MAS_ERRORS)
def test_masgsm_documented_error_codes(
    server: Server,
    client: httpx.Client,
    form: str,
    code: int,
    error: type[SmscliError],
    exit_code: ExitCode,
    words: list[str],
) -> None:
    server.reply(200, {"code": code, "message": "hata"} if form == "json" else str(code))
    with pytest.raises(error) as caught:
        masgsm(client).send(batch(TR1, TR2, sender="ACME"))
    assert type(caught.value) is error
    assert caught.value.exit_code == exit_code
    for word in words:
        assert word in caught.value.message


@pytest.mark.parametrize("form", ["json", "plain", "plain with id"])
@pytest.mark.parametrize("code", [4, 5, 7, 99, 404, 999, 1234])
def test_masgsm_undocumented_code_leaves_every_message_in_doubt(
    server: Server, client: httpx.Client, form: str, code: int
) -> None:
    body: object = {
        "json": {"code": code, "message": "hata", "id": "555"},
        "plain": str(code),
        "plain with id": f"{code} 555",
    }[form]
    server.reply(200, body)
    result = masgsm(client).send(batch(TR1, TR2, sender="ACME"))
    assert [o.status for o in result.outcomes] == ["unknown", "unknown"]
    expected_id = None if form == "plain" else "555"
    assert result.batch_id == expected_id
    for outcome in result.outcomes:
        assert outcome.message_id == expected_id
        assert outcome.error is not None
        assert outcome.error.startswith(f"masgsm: reply code {code}, which is not in masgsm's")
        assert "may have been processed" in outcome.error


@pytest.mark.parametrize(
    "body",
    [
        "Success",
        "98765-not-a-code",
        "1 2 3",
        "-1",
        '"1"',
        {"code": "abc"},
        {"code": True},
        {"code": None, "message": "x"},
        {"message": "Başarılı"},
    ],
)
def test_masgsm_wrong_shape_is_unreadable(
    server: Server, client: httpx.Client, body: object
) -> None:
    server.reply(200, body)
    with pytest.raises(OutcomeUnknown, match="masgsm: unexpected reply"):
        masgsm(client).send(batch(TR1, sender="ACME"))


@pytest.mark.parametrize("sender", [None, ""])
def test_masgsm_needs_a_sender(server: Server, client: httpx.Client, sender: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        masgsm(client).send(batch(TR1, sender=sender))
    assert "masgsm needs a sender header (başlık, field title)" in caught.value.message
    assert "SMSCLI_SENDER or --sender" in caught.value.message
    assert server.requests == []


@pytest.mark.parametrize(("username", "password"), [(None, "PASS123"), ("5321112233", None)])
def test_masgsm_needs_username_and_password(
    server: Server, client: httpx.Client, username: str | None, password: str | None
) -> None:
    driver = masgsm(client, username=username, password=password)
    for call in (lambda: driver.send(batch(TR1, sender="ACME")), driver.balance):
        with pytest.raises(ConfigError, match="masgsm needs a username") as caught:
            call()
        assert type(caught.value) is ConfigError
    assert server.requests == []


def test_masgsm_only_turkish_mobiles(server: Server, client: httpx.Client) -> None:
    driver = masgsm(client)
    assert driver.check_recipient(TR1) is None
    reason = driver.check_recipient(US1)
    assert reason is not None and "masgsm" in reason
    with pytest.raises(InputError, match=r"masgsm .*\+12125551234"):
        driver.send(batch(TR1, US1, sender="ACME"))
    assert server.requests == []


@pytest.mark.parametrize(
    ("body", "credits", "raw"),
    [
        ({"code": 1, "message": "Hesap Bakiyesi", "balance": "000000"}, 0.0, "000000"),
        ({"code": "1", "message": "Hesap Bakiyesi", "balance": "1234.5"}, 1234.5, "1234.5"),
        ({"code": 1, "balance": 250}, 250.0, "250"),
    ],
)
def test_masgsm_balance(
    server: Server, client: httpx.Client, body: object, credits: float, raw: str
) -> None:
    server.reply(200, body)
    balance = masgsm(client).balance()
    assert (balance.credits, balance.raw) == (credits, raw)
    request = server.request
    assert request.method == "POST"
    assert str(request.url) == "http://masgsm.com.tr/MasApiV2/api_post.php"
    assert request.headers["Content-Type"] == FORM
    assert request.content == b"type=4&u=5321112233&p=PASS123"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"code": 401, "message": "Kullanıcı Adı Şifre Hatası"}, AuthError),
        ("401", AuthError),
        ({"code": 400}, ProviderError),
        ({"code": 0}, ProviderError),
        ({"code": 1, "message": "Hesap Bakiyesi"}, ProviderError),
        ({"code": 1, "balance": "bol"}, ProviderError),
        (HTML, ProviderError),
        ("", ProviderError),
    ],
)
def test_masgsm_balance_errors(
    server: Server, client: httpx.Client, body: object, error: type[SmscliError]
) -> None:
    server.reply(200, body)
    with pytest.raises(error) as caught:
        masgsm(client).balance()
    assert type(caught.value) is error
    assert caught.value.message.startswith("masgsm:")


# --- declared capabilities ------------------------------------------------------------------


def test_capabilities_as_documented() -> None:
    assert CustomerSms.capabilities == Capabilities(
        max_batch=100, per_recipient_text=False, turkish_mode=False, turkish_numbers_only=False,
        sender=False, balance=False, report=False, headers=False,
        rate_limits=("100/minute", "5000/hour", "50000/day"), credentials=("api_key",),
    )  # fmt: skip
    assert VairoSms.capabilities == Capabilities(
        max_batch=1000, per_recipient_text=True, turkish_mode=True, turkish_numbers_only=True,
        sender=True, balance=False, report=True, headers=False, credentials=("api_key",),
    )  # fmt: skip
    assert MasGsm.capabilities == Capabilities(
        max_batch=500, per_recipient_text=True, turkish_mode=True, turkish_numbers_only=True,
        sender=True, balance=True, report=True, headers=True,
        credentials=("username", "password"),
    )  # fmt: skip
    assert CustomerSms.default_base_url == "https://customersms.pro"
    assert VairoSms.default_base_url == "https://vairosms.com/Panel/api/v1"
    assert MasGsm.default_base_url == "http://masgsm.com.tr/MasApiV2"


# --- canary: no secret in any message -------------------------------------------------------

CANARIES = ["CANARY-s3cr3t-XYZ", "p@ss w&rd/+"]


def wire_forms(secret: str) -> set[str]:
    """The secret raw, URL-encoded and JSON-escaped: how an echo could carry it."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
    }


def echoes(secret: str) -> list[str]:
    """Reply bodies of every kind that echo the secret back."""
    forms = sorted(wire_forms(secret))
    said = " ".join(forms)
    return [
        f"<html><body>bad request {said} ?api_key={secret}&p={quote_plus(secret)}</body></html>",
        json.dumps({"success": False, "error": f"Invalid key {said}", "code": "INVALID_API_KEY"}),
        json.dumps({"success": False, "error": f"Insufficient credits {said}", "code": "CREDITS"}),
        json.dumps({"success": False, "error": f"{said}", "code": f"X{secret}"}),
        json.dumps({"success": True, "results": [{"phone": TR1, "success": False, "error": said}]}),
        json.dumps(
            {"success": True, "results": [{"phone": TR1, "success": False, "message": said}]}
        ),
        json.dumps({"durum": False, "aciklama": f"api_key {said} hatalı"}),
        json.dumps({"durum": False, "aciklama": f"INVALID_SOURCE_ADDRESS {said}"}),
        json.dumps({"durum": False, "aciklama": said}),
        json.dumps({"durum": True, "aciklama": {"key": secret}}),
        json.dumps({"code": 0, "message": said}),
        json.dumps({"code": 999, "message": said}),
        json.dumps({"code": 1, "message": said}),
        json.dumps({"code": 1, "message": said, "balance": said}),
        json.dumps({"code": 401, "message": said}),
        said,
    ]


def leaks(exc_or_result: BaseException | BatchResult | object) -> list[str]:
    """Every user-facing text a call produced."""
    if isinstance(exc_or_result, SmscliError):
        return [str(exc_or_result), exc_or_result.message, exc_or_result.hint or ""]
    if isinstance(exc_or_result, BatchResult):
        return [o.error or "" for o in exc_or_result.outcomes] + [
            o.message_id or "" for o in exc_or_result.outcomes
        ]
    return [repr(exc_or_result)]


def call_all(client: httpx.Client, secret: str) -> Iterator[BaseException | object]:
    """Every operation of every driver with ``secret`` as the key or password."""
    calls: list[Callable[[], object]] = [
        lambda: customersms(client, api_key=secret).send(batch(TR1)),
        lambda: vairosms(client, api_key=secret).send(batch(TR1, sender="ACME")),
        lambda: masgsm(client, password=secret).send(batch(TR1, sender="ACME")),
        lambda: masgsm(client, password=secret).balance(),
    ]
    for call in calls:
        try:
            yield call()
        except SmscliError as exc:
            yield exc


@pytest.mark.parametrize("secret", CANARIES)
def test_no_secret_in_any_message(server: Server, client: httpx.Client, secret: str) -> None:
    texts: list[str] = []
    for status in (200, 400, 401, 403, 404, 500, 502):
        for body in echoes(secret):
            server.reply(status, body)
            for produced in call_all(client, secret):
                texts += leaks(produced)
    for failure in (
        httpx.ConnectError(f"cannot reach https://h/x?api_key={secret}&p={quote_plus(secret)}"),
        httpx.ReadTimeout(f"timed out {secret}"),
        httpx.RemoteProtocolError(f"dropped {quote(secret, safe='')}"),
    ):
        server.fail(failure)
        for produced in call_all(client, secret):
            texts += leaks(produced)
    for form in wire_forms(secret):
        assert not [t for t in texts if form in t], form
    assert any("***" in t for t in texts)  # the echoes reached the messages, redacted


@pytest.mark.parametrize("secret", ["p@ss w&rd/+"])
def test_no_secret_in_php_or_html_escaped_echo(
    server: Server, client: httpx.Client, secret: str
) -> None:
    php_json = json.dumps(secret)[1:-1].replace("/", "\\/")
    texts: list[str] = []
    for body in (
        '{"success":false,"error":"bad key ' + php_json + '","code":"X"}',
        f"<html><body>bad key {html.escape(secret)}</body></html>",
    ):
        server.reply(400, body)
        for produced in call_all(client, secret):
            texts += leaks(produced)
    for form in (php_json, html.escape(secret)):
        assert not [t for t in texts if form in t], form


@given(
    fields=st.lists(
        st.tuples(st.text(max_size=20), st.text(max_size=80) | st.sampled_from(["a b", "ş&=+%~"])),
        max_size=6,
    )
)
def test_form_encode_is_urlencode_byte_for_byte(fields: list[tuple[str, str]]) -> None:
    try:
        want = urlencode(fields).encode("ascii")
    except UnicodeEncodeError:  # a lone surrogate: neither can encode it
        with pytest.raises(UnicodeEncodeError):
            form_encode(fields)
        return
    assert form_encode(fields) == want


def test_wire_hooks_fire_when_the_request_is_written_and_when_the_reply_comes(emulator) -> None:
    """The bulk engine moves a request's rate-limit permit at these moments (real HTTP)."""
    import time

    from smscli.http import make_client, on_wire, request

    emulator.latency = 0.3  # the reply comes 0.3 s after the emulator has the request
    fired: list[tuple[str, float]] = []

    class Hooks:
        def sent(self) -> None:
            fired.append(("sent", time.time()))

        def replied(self) -> None:
            fired.append(("replied", time.time()))

    token = on_wire.set(Hooks())
    try:
        with make_client(5.0, Redactor()) as client:
            started = time.time()
            reply = request(
                client,
                "POST",
                emulator.base_url("customersms") + "/sms_system/api.php",
                provider="customersms",
                redactor=Redactor(),
                json={"api_key": "wrong", "phone": ["+905321234567"], "message": "hi"},
            )
            ended = time.time()
    finally:
        on_wire.reset(token)
    assert reply.status_code in (200, 401)
    (arrived,) = (r.time for r in emulator.requests)
    assert [name for name, _ in fired] == ["sent", "replied"]
    (_, sent), (_, replied) = fired
    assert started <= sent <= arrived + 0.05  # written, then received
    assert replied - sent >= 0.25  # the reply, after the emulator's latency
    assert replied <= ended
