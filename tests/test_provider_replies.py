"""What the drivers make of the providers' replies, proven through the real CLI (or the driver
over real HTTP) against the loopback emulator scripted with ``emu.answer``:

- every documented masgsm reply code, and undocumented ones in every form (bare, JSON, with an
  id, after a BOM): a code the docs do not list is ``unknown``, never ``failed``;
- credit refusals recognised in any case form, Turkish dotted and dotless i included;
- non-finite balances never reach ``--json``.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smscli.cli.output import json_text
from smscli.errors import CreditError, OutcomeUnknown, ProviderError
from smscli.providers.base import Account, Batch, Message, fold
from smscli.providers.customersms import CustomerSms
from smscli.providers.masgsm import MasGsm
from smscli.providers.vairosms import VairoSms
from tests.emulator import Emulator

A, B = "+905321234567", "+905321112233"
BOM = "\ufeff"


class _NoState:
    def get(self, key: str) -> str | None:
        return None


@pytest.fixture
def setup(cli, home, emulator):
    home.write_config(emulator.profiles())
    return home


def send_mas(cli) -> Any:
    """Two numbers through masgsm, past the balance check (which would take the answer)."""
    return cli("send", f"{A},{B}", "-m", "Merhaba", "-p", "mas", "--json", "--force")


def ledger(home) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(home.ledger) as db:
        return db.execute("SELECT state, provider_message_id, error FROM messages").fetchall()


def no_nan(text: str) -> Any:
    """``json.loads`` that refuses NaN and Infinity, which are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


# --- masgsm: every documented code, and undocumented ones -------------------------------------

UNKNOWN_CODE = "not in masgsm's list of reply codes"
MAY_HAVE = "may have been processed"
# (body, HTTP status, whether the emulator takes the send, ledger state, exit code, error words)
DOCUMENTED: list[tuple[object, str, int, list[str]]] = [
    ({"code": 1, "message": "Başarılı", "id": "777"}, "accepted", 0, []),
    ("1 777", "accepted", 0, []),
    ({"code": 0, "message": "Gönderim Hatası"}, "failed", 6,
     ["masgsm: sending error (code 0)", "Gönderim Hatası"]),
    ("0", "failed", 6, ["masgsm: sending error (code 0)"]),
    ({"code": 2, "message": "Yetersiz Bakiye"}, "failed", 5,
     ["masgsm: insufficient balance; nothing sent (code 2)"]),
    ("2", "failed", 5, ["insufficient balance; nothing sent (code 2)"]),
    ({"code": 3, "message": "Yetersiz Bakiye , Parça gönderim sağlandı.", "id": "777"},
     "unknown", 7, ["insufficient balance (code 3)", "does not say to which numbers"]),
    ("3 777", "unknown", 7, ["code 3", "smscli report"]),
    ({"code": 400, "message": "Eksik Parametre"}, "failed", 6, ["missing parameter", "code 400"]),
    ("400", "failed", 6, ["missing parameter", "code 400"]),
    ({"code": 401}, "failed", 4, ["wrong username or password (code 401)"]),
    ("401", "failed", 4, ["wrong username or password (code 401)"]),
    ({"code": 402}, "failed", 4, ["invalid sender header", "'ACME'", "code 402"]),
    ("402", "failed", 4, ["invalid sender header", "code 402"]),
    ({"code": 403}, "failed", 4, ["forbidden sender header", "'ACME'", "code 403"]),
    ("403", "failed", 4, ["forbidden sender header", "code 403"]),
    ({"code": 405}, "failed", 3, ["invalid number format", "5xxxxxxxxx", "code 405"]),
    ("405", "failed", 3, ["invalid number format", "code 405"]),
]  # fmt: skip
UNDOCUMENTED: list[object] = [
    "5",
    "5 777",
    "5|777",
    "7\n",
    "4",
    "99",
    "404",
    "500",
    "1234",
    "1234 777",
    {"code": 7},
    {"code": "7", "message": "Bilinmeyen durum"},
    {"code": 7, "message": "Yetersiz Bakiye", "id": "777"},
    {"code": 404, "id": 777},
    {"code": 1234},
    {"code": 10},
]


def _fmt(body: object) -> str:
    return body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)


def _check_errors(doc: dict[str, Any], state: str, words: list[str]) -> None:
    assert [r["status"] for r in doc["results"]] == [state, state]
    for result in doc["results"]:
        for word in words:
            assert word in (result["error"] or ""), result


@pytest.mark.parametrize(
    ("body", "state", "code", "words"), DOCUMENTED, ids=[_fmt(d[0]) for d in DOCUMENTED]
)
def test_masgsm_documented_codes(cli, setup, emulator, body, state, code, words):
    emulator.answer("masgsm", body, process=state != "failed")
    out = send_mas(cli)
    assert out.exit_code == code, out.stderr
    doc = no_nan(out.stdout)
    _check_errors(doc, state, words)
    if state == "accepted":
        assert [r["message_id"] for r in doc["results"]] == ["777", "777"]
        assert [r["error"] for r in doc["results"]] == [None, None]
    if state == "failed":
        assert all(r["message_id"] is None for r in doc["results"])
        assert len(emulator.received) == 0


@pytest.mark.parametrize("status", [200, 404])
@pytest.mark.parametrize("body", UNDOCUMENTED, ids=[_fmt(b) for b in UNDOCUMENTED])
def test_masgsm_undocumented_code_is_unknown_never_failed(cli, setup, emulator, home, body, status):
    emulator.answer("masgsm", body, status=status)
    out = send_mas(cli)
    assert out.exit_code == 7, out.stderr
    doc = no_nan(out.stdout)
    code = str(body["code"] if isinstance(body, dict) else body.split()[0].split("|")[0])
    _check_errors(doc, "unknown", ["masgsm: reply code " + code, UNKNOWN_CODE, MAY_HAVE])
    if "777" in _fmt(body):  # the id is kept: `smscli report` can ask about it
        assert [r["message_id"] for r in doc["results"]] == ["777", "777"]
    assert {state for state, _, _ in ledger(home)} == {"unknown"}


@pytest.mark.parametrize(
    "body",
    ["12345678", "-1", "<html><body>Hata</body></html>", "", "OK", {"status": 1}, '"1"'],
)
def test_masgsm_unreadable_reply_is_unknown(cli, setup, emulator, body):
    emulator.answer("masgsm", body)
    out = send_mas(cli)
    assert out.exit_code == 7, out.stderr
    _check_errors(no_nan(out.stdout), "unknown", ["masgsm: unexpected reply (HTTP 200)"])


@pytest.mark.parametrize(
    ("body", "state"),
    [
        (BOM + "1", "accepted"),
        (BOM + "1 777", "accepted"),
        (BOM + BOM + "1|777\r\n", "accepted"),
        (" " + BOM + "1 777", "accepted"),
        (BOM + '{"code":1,"message":"Başarılı","id":"777"}', "accepted"),
        (BOM + BOM + '{"code":"1","id":777}', "accepted"),
        (BOM + "0", "failed"),
        (BOM + '{"code":0}', "failed"),
        (BOM + "3 777", "unknown"),
        (BOM + "5", "unknown"),
    ],
)
def test_masgsm_bom_before_the_reply_is_read_like_without(cli, setup, emulator, body, state):
    emulator.answer("masgsm", body.encode())
    out = send_mas(cli)
    doc = no_nan(out.stdout)
    assert [r["status"] for r in doc["results"]] == [state, state], out.stderr
    if "777" in body and state != "failed":
        assert doc["results"][0]["message_id"] == "777"


def test_masgsm_bom_before_the_balance_and_a_bare_401(cli, setup, emulator):
    emulator.answer("masgsm", BOM + '{"code":1,"message":"Hesap Bakiyesi","balance":"000042"}')
    out = cli("balance", "-p", "mas", "--json")
    assert out.exit_code == 0, out.stderr
    assert no_nan(out.stdout)["credits"] == 42
    emulator.answer("masgsm", BOM + "401")
    out = cli("balance", "-p", "mas", "--json")
    assert out.exit_code == 4
    assert "wrong username or password (code 401)" in out.stderr


@pytest.mark.parametrize("code", ["0", "3", "5", '{"code": 7}'])
def test_masgsm_balance_with_another_code_is_a_clear_provider_error(cli, setup, emulator, code):
    emulator.answer("masgsm", code)
    out = cli("balance", "-p", "mas", "--json")
    assert out.exit_code == 6, out.stderr
    assert "masgsm:" in out.stderr and "code" in out.stderr
    assert out.json()["error"]["code"] == "provider" and out.json()["exit_code"] == 6


def test_undocumented_reply_kept_out_of_retry_failed(cli, setup, emulator, home):
    """``bulk --retry-failed`` re-sends failed messages only: an undocumented code is not one."""
    (home.cwd / "list.csv").write_text(f"telefon\n{A}\n{B}\n", encoding="utf-8")
    bulk = ("bulk", "list.csv", "-m", "Merhaba", "-p", "mas", "--yes", "--force", "--json")
    emulator.answer("masgsm", {"code": 7})
    assert cli(*bulk).exit_code == 7
    emulator.requests.clear()
    out = cli(*bulk, "--retry-failed")
    assert out.exit_code == 2, out.stderr  # nothing failed: nothing to send again
    assert "0 failed, 2 unknown" in out.stderr
    assert emulator.requests == []
    assert len(emulator.received) == 2  # received once, never again
    assert emulator.duplicates() == {}


# --- credit refusals in any case form ---------------------------------------------------------

# Every credit or balance refusal wording of the provider pages and NOTES.md (masgsm "Yetersiz
# Bakiye", NOTES' "insufficient balance"), and those seen or emulated (vairosms "Yetersiz
# kredi", customersms "Insufficient credits" / INSUFFICIENT_CREDITS).
CREDIT_WORDINGS = [
    "Yetersiz Bakiye",
    "Yetersiz kredi",
    "insufficient balance",
    "Insufficient credits",
    "INSUFFICIENT_CREDITS",
    "Yetersiz kontör",
]


def tr_upper(text: str) -> str:
    return text.replace("i", "İ").replace("ı", "I").upper()


def tr_lower(text: str) -> str:
    return text.replace("İ", "i").replace("I", "ı").lower()


def case_forms(text: str) -> dict[str, str]:
    ascii_ = text.translate(str.maketrans("çğıİöşüÇĞÖŞÜ", "cgiIosuCGOSU"))
    return {
        "as written": text,
        "Turkish upper": tr_upper(text),  # YETERSİZ BAKİYE
        "Python upper": text.upper(),  # YETERSIZ BAKIYE
        "Turkish lower": tr_lower(tr_upper(text)),  # yetersiz bakiye
        "Python lower of Turkish upper": tr_upper(text).lower(),  # i + U+0307
        "title": text.title(),
        "ASCII upper": ascii_.upper(),
        "ASCII lower": ascii_.lower(),
    }


CREDIT_CASES = sorted(
    {(w, form, t) for w in CREDIT_WORDINGS for form, t in case_forms(w).items()},
    key=lambda c: (CREDIT_WORDINGS.index(c[0]), c[1]),
)


def test_fold_compares_dotted_and_dotless_i_equal():
    assert "İ".casefold() != "i"  # why casefold() alone is not enough
    forms = {fold(t) for t in case_forms("Yetersiz Bakiye").values()}
    assert forms == {"yetersiz bakiye"}
    assert fold("ŞİRKET ÇĞÖÜ ı") == fold("sirket cgou I") == "sirket cgou i"
    assert fold("Kayıt bulunamadı") == fold("KAYIT BULUNAMADI")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def _batch() -> Batch:
    return Batch((Message("m0", A, "Merhaba"), Message("m1", B, "Merhaba")), sender="ACME")


@pytest.mark.parametrize(
    ("wording", "form", "text"), CREDIT_CASES, ids=[f"{c[0]}-{c[1]}" for c in CREDIT_CASES]
)
@pytest.mark.parametrize("provider", ["vairosms", "customersms"])
def test_credit_refusal_in_any_case_form(emulator, http, provider, wording, form, text):
    if provider == "vairosms":
        emulator.answer(provider, {"durum": False, "aciklama": text}, status=400, process=False)
        account = Account(provider, emulator.base_url(provider), api_key=Emulator.VAIROSMS_KEY)
        driver: VairoSms | CustomerSms = VairoSms(account, http, _NoState())
    else:
        body = {"success": False, "error": text, "code": "ERROR"}
        emulator.answer(provider, body, status=402, process=False)
        account = Account(provider, emulator.base_url(provider), api_key=Emulator.CUSTOMERSMS_KEY)
        driver = CustomerSms(account, http, _NoState())
    with pytest.raises(CreditError) as caught:
        driver.send(_batch())
    assert f"{provider}: insufficient credit; nothing sent" in caught.value.message
    assert text in caught.value.message or json.dumps(text)[1:-1] in caught.value.message
    assert emulator.received == []


def test_vairosms_partial_sending_wording_is_unknown_not_a_credit_refusal(emulator, http):
    said = "Yetersiz Bakiye , Parça gönderim sağlandı. Hesap bakiyesi kadar gönderim yapıldı."
    for text in (said, tr_upper(said), said.upper()):
        emulator.answer("vairosms", {"durum": False, "aciklama": text}, status=400)
        account = Account("vairosms", emulator.base_url("vairosms"), api_key=Emulator.VAIROSMS_KEY)
        with pytest.raises(OutcomeUnknown, match="may have been sent"):
            VairoSms(account, http, _NoState()).send(_batch())


@pytest.mark.parametrize(
    ("profile", "answer", "status"),
    [
        ("vs", {"durum": False, "aciklama": "YETERSİZ BAKİYE"}, 400),
        ("vs", {"durum": False, "aciklama": "yetersiz bakiye"}, 200),
        ("vs", {"durum": False, "aciklama": "YETERSIZ KREDI"}, 400),
        ("cs", {"success": False, "error": "YETERSİZ BAKİYE", "code": "HATA"}, 402),
    ],
)
def test_bulk_stops_at_the_first_credit_refusal_with_exit_5(
    cli, home, emulator, profile, answer, status
):
    home.write_config(emulator.profiles("batch_size = 1\nconcurrency = 1"))
    rows = "".join(f"+90532123450{i},Kişi {i}\n" for i in range(5))
    (home.cwd / "list.csv").write_text("telefon,ad\n" + rows, encoding="utf-8")
    provider = {"vs": "vairosms", "cs": "customersms"}[profile]
    emulator.answer(provider, answer, status=status, times=5, process=False)
    out = cli("bulk", "list.csv", "-m", "Merhaba {ad}", "-p", profile, "--yes", "--json")
    assert out.exit_code == 5, out.stdout + out.stderr
    assert "insufficient credit" in out.stderr
    assert len([r for r in emulator.requests if r.method == "POST"]) == 1  # stopped at once
    with sqlite3.connect(home.ledger) as db:
        states = {s for (s,) in db.execute("SELECT state FROM messages")}
    assert states == {"pending"}  # kept to resume once topped up, never marked failed


# --- non-finite numbers -----------------------------------------------------------------------

NON_FINITE = ['"nan"', '"NaN"', '"inf"', '"-inf"', '"Infinity"', "1e999", "-1e999", "NaN"]


@pytest.mark.parametrize("value", NON_FINITE)
def test_masgsm_non_finite_balance_is_an_unreadable_reply(cli, setup, emulator, value):
    emulator.answer("masgsm", f'{{"code":1,"message":"Hesap Bakiyesi","balance":{value}}}')
    out = cli("balance", "-p", "mas", "--json")
    assert out.exit_code == 6, out.stdout + out.stderr
    assert "masgsm: unexpected balance reply" in out.stderr
    assert out.stdout == "" or no_nan(out.stdout)


@pytest.mark.parametrize("value", NON_FINITE)
def test_masgsm_send_checks_no_non_finite_balance(cli, setup, emulator, value):
    """A balance of NaN passed every credit check before (NaN < n is false): now nothing is
    sent, as for any balance reply we cannot read (``--force`` skips the check)."""
    emulator.answer("masgsm", f'{{"code":1,"balance":{value}}}')
    out = cli("send", A, "-m", "Merhaba", "-p", "mas", "--json")
    assert out.exit_code == 6, out.stdout + out.stderr
    assert "masgsm: unexpected balance reply" in out.stderr
    assert emulator.received == []
    assert out.stdout == "" or no_nan(out.stdout)


@pytest.mark.parametrize("value", NON_FINITE)
def test_customersms_non_finite_remaining_credits_is_null(cli, setup, emulator, value):
    results = [{"phone": A, "success": True, "message_id": "msg_1"}]
    emulator.answer(
        "customersms",
        f'{{"success":true,"remaining_credits":{value},"results":{json.dumps(results)}}}',
    )
    out = cli("send", A, "-m", "Merhaba", "-p", "cs", "--json")
    assert out.exit_code == 0, out.stderr
    doc = no_nan(out.stdout)
    assert doc["credits_remaining"] is None
    assert doc["results"][0]["status"] == "accepted"
    balance = cli("balance", "-p", "cs", "--json")
    assert balance.exit_code == 2  # nothing readable was reported
    no_nan(balance.stdout or "null")


@pytest.mark.parametrize("stored", ["nan", "inf", "-inf", "lots"])
def test_an_unreadable_value_in_the_ledger_reaches_json_as_null(cli, setup, home, stored):
    """A value an older smscli stored (``repr(nan)``) is shown as unknown, never as NaN."""
    assert cli("send", A, "-m", "Merhaba", "-p", "cs").exit_code == 0
    with sqlite3.connect(home.ledger) as db:
        db.execute("UPDATE provider_state SET value = ? WHERE key = 'credits_remaining'", (stored,))
    out = cli("balance", "-p", "cs", "--json")
    assert out.exit_code == 0, out.stderr
    doc = no_nan(out.stdout)
    assert (doc["credits"], doc["raw"], doc["source"]) == (None, stored, "ledger")
    assert "unknown" in cli("balance", "-p", "cs").stdout


def test_json_text_writes_non_finite_numbers_as_null():
    doc = {"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": {"d": (math.nan,)}, "e": "x"}
    assert no_nan(json_text(doc)) == {"a": None, "b": [None, None, 1.5], "c": {"d": [None]},
                                      "e": "x"}  # fmt: skip
    assert json_text({"ş": 1}) == '{"ş": 1}'


def test_masgsm_balance_driver_rejects_non_finite(emulator, http):
    account = Account(
        "masgsm",
        emulator.base_url("masgsm"),
        username=Emulator.MASGSM_USER,
        password=Emulator.MASGSM_PASS,
    )
    for value in NON_FINITE:
        emulator.answer("masgsm", f'{{"code":1,"balance":{value}}}')
        with pytest.raises(ProviderError, match="unexpected balance reply"):
            MasGsm(account, http, _NoState()).balance()
