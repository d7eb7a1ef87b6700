"""Redaction that cannot be sidestepped by encoding (issue 18): a provider that echoes what it
received, in any chain of encodings or cut short, never gets a secret (nor any 8 characters of
one) into an output, a log line, the ledger or a CSV."""

from __future__ import annotations

import base64
import html
import html.entities
import json
import logging
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smscli.http import redact_response
from smscli.redact import Redactor
from tests.emulator import Emulator, RecordedRequest
from tests.test_secrets import envs

KEY = 'CANARYk3yAbC/d+e=f"g\\h7Zq'  # vairosms and customersms: / + = " \ all in it
PASSWORD = 'CANARYp4ss/W+x=y"z\\Q9'  # masgsm
WINDOW = 8


def windows(secret: str) -> set[str]:
    if len(secret) <= WINDOW:
        return {secret}
    return {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}


def leaks(blobs: Iterable[str], secrets: Iterable[str]) -> list[str]:
    found = []
    for blob in blobs:
        for secret in secrets:
            found += [f"{w!r} in {blob[:300]!r}" for w in windows(secret) if w in blob]
    return found


def ledger_blobs(home: Any) -> list[str]:
    blobs = []
    for path in Path(home.ledger).parent.glob("ledger.db*"):
        data = path.read_bytes()
        blobs += [data.decode("latin-1"), data.decode("utf-8", "replace")]
    return blobs


def assert_clean(texts: Iterable[str], home: Any, secrets: Iterable[str] = (KEY, PASSWORD)) -> None:
    found = leaks([*texts, *ledger_blobs(home)], list(secrets))
    assert not found, found[:5]


ENV = envs(KEY, PASSWORD)


def test_debug_leaves_no_log_handler_behind(cli, home):
    """Each in-process ``--debug`` command used to leave its handler on the loggers (and the
    level at DEBUG): a long-lived caller logged every later line once per earlier command."""
    loggers = [logging.getLogger(name) for name in ("smscli", "httpx")]
    before = [(list(lg.handlers), lg.level) for lg in loggers]
    for _ in range(2):
        out = cli("send", "05321234567", "-m", "x", "--provider", "sandbox", "--debug")
        assert out.exit_code == 0, out.stderr
    assert [(list(lg.handlers), lg.level) for lg in loggers] == before


@pytest.fixture
def canary(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setattr(emulator, "CUSTOMERSMS_KEY", KEY)
    monkeypatch.setattr(emulator, "VAIROSMS_KEY", KEY)
    monkeypatch.setattr(emulator, "MASGSM_PASS", PASSWORD)
    return emulator


def env_for(emu: Emulator, provider: str) -> dict[str, str]:
    return {**ENV[provider], "SMSCLI_BASE_URL": emu.base_url(provider)}


def echoed(req: RecordedRequest) -> str:
    """What a provider can quote of a request: its target, and a form body (masgsm)."""
    if req.provider == "masgsm":
        return f"{req.target}?{req.body.decode()}"
    return req.target


def redirect_page(req: RecordedRequest) -> str:
    back = quote(echoed(req), safe="")  # the URL-encoded request, URL-encoded again
    return f'<html><body>Oturum gerekli: <a href="/login?return={back}">giriş</a></body></html>'


def echo_redirect(emu: Emulator, provider: str) -> None:
    def location(req: RecordedRequest) -> list[tuple[str, str]]:
        return [("Location", "/login?return=" + quote(echoed(req), safe=""))]

    emu.echo(provider, redirect_page, status=302, headers=location, process=False)


# --- the reproductions of the issue, through the CLI ------------------------------------------


SEND = ("send", "05321234567", "-m", "Merhaba", "--debug", "--force")  # --force: no balance call


@pytest.mark.parametrize("provider", ["vairosms", "masgsm"])
def test_a_302_quoting_the_request_url_twice_encoded_leaks_nothing(cli, home, canary, provider):
    env = env_for(canary, provider)
    echo_redirect(canary, provider)
    out = cli(*SEND, env=env)
    assert out.exit_code != 0
    assert [r.method for r in canary.requests] == ["POST"]  # the send itself met the 302
    texts = [out.stdout, out.stderr]
    assert "return=" in out.stdout + out.stderr  # the page was quoted, redacted
    echo_redirect(canary, provider)
    report = cli("report", "--debug", env=env)
    texts += [report.stdout, report.stderr]
    assert_clean(texts, home)


def test_a_302_in_bulk_leaks_nothing_into_the_failed_csv(cli, home, canary):
    (home.cwd / "people.csv").write_text("phone\n05321234567\n05321112233\n", encoding="utf-8")
    echo_redirect(canary, "vairosms")
    out = cli(
        "bulk", "people.csv", "-m", "Merhaba", "--yes", "--failed-csv", "failed.csv",
        "--failed-csv-unknown", env=env_for(canary, "vairosms"),
    )  # fmt: skip
    assert out.exit_code != 0
    failed = (home.cwd / "failed.csv").read_text(encoding="utf-8")
    assert "05321234567" in failed
    assert_clean([out.stdout, out.stderr, failed], home)


@pytest.mark.parametrize("command", ["balance", "headers"])
def test_masgsm_balance_and_headers_302_leak_nothing(cli, home, canary, command):
    echo_redirect(canary, "masgsm")
    out = cli(command, "--debug", env=env_for(canary, "masgsm"))
    assert out.exit_code != 0
    assert_clean([out.stdout, out.stderr], home)


def test_a_truncated_request_body_quoted_by_customersms_leaks_no_prefix(cli, home, canary):
    def syntax_error(req: RecordedRequest) -> str:
        near = req.body.decode()[:30]  # {"api_key":"CANARYk3yAbC/d+e=
        return json.dumps({"success": False, "error": f"Syntax error near: {near}"})

    env = env_for(canary, "customersms")
    canary.echo("customersms", syntax_error, status=400, process=False)
    out = cli(*SEND, env=env)
    assert out.exit_code != 0
    assert "Syntax error near" in out.stdout + out.stderr
    shown = cli("report", env=env)
    assert_clean([out.stdout, out.stderr, shown.stdout, shown.stderr], home)


def test_a_key_with_quote_and_backslash_in_json_escaped_twice_leaks_nothing(cli, home, canary):
    def quoted_body(req: RecordedRequest) -> str:  # an error of another shape: quoted raw
        return json.dumps({"error": {"message": "bad request", "body": req.body.decode()}})

    env = env_for(canary, "customersms")
    canary.echo("customersms", quoted_body, status=400, process=False)
    out = cli(*SEND, env=env)
    assert out.exit_code != 0
    assert "bad request" in out.stdout + out.stderr
    assert_clean([out.stdout, out.stderr], home)


SINGLE_LAYER: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "url": lambda s: quote(s, safe=""),
    "url-plus": quote_plus,
    "json": lambda s: json.dumps(s)[1:-1],
    "php-html": html.escape,
}


@pytest.mark.parametrize("form", sorted(SINGLE_LAYER))
def test_single_layer_echoes_stay_redacted(cli, home, canary, form):
    encode = SINGLE_LAYER[form]
    canary.echo("vairosms", lambda r: f"key {encode(KEY)} refused", status=400, process=False)
    out = cli(*SEND, env=env_for(canary, "vairosms"))
    assert "refused" in out.stdout + out.stderr
    assert_clean([out.stdout, out.stderr], home)


# --- the Redactor, form by form ---------------------------------------------------------------


def clean(text: str, secret: str = KEY, encode: Callable[[str], str] | None = None) -> bool:
    """No window of ``secret`` left in the redacted ``text``, raw or ``encode``-d."""
    out = Redactor([secret])(text)
    bad = windows(secret) | {encode(w) for w in windows(secret)} if encode else windows(secret)
    return not [b for b in bad if b in out]


def url(text: str, depth: int = 1) -> str:
    for _ in range(depth):
        text = quote(text, safe="")
    return text


def json_escaped(text: str, times: int, ascii_only: bool = True) -> str:
    for _ in range(times):
        text = json.dumps(text, ensure_ascii=ascii_only)[1:-1]
    return text


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_nested_url_encoding_at_any_depth(depth):
    text = f"Moved to /login?return={url('/SmsGonder?api_key=' + url(KEY), depth)} now"
    assert clean(text, KEY, lambda w: url(w, depth + 1))
    redacted = Redactor([KEY])(text)
    if depth == 1:  # a literal form, masked exactly where it is
        assert redacted == f"Moved to /login?return={url('/SmsGonder?api_key=')}*** now"
    else:  # found by decoding: the piece between delimiters that hides it
        assert redacted == "Moved to /login?*** now"


@pytest.mark.parametrize("times", [1, 2, 3])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_json_of_json(times, ascii_only):
    text: Any = {"api_key": KEY + "ç"}
    for _ in range(times):
        text = json.dumps(text, ensure_ascii=ascii_only)
    key = KEY + "ç"
    assert clean(f'{{"error": {text}}}', key, lambda w: json_escaped(w, times, ascii_only))
    php = text.replace("/", "\\/")
    assert clean(php, key, lambda w: json_escaped(w, times, ascii_only).replace("/", "\\/"))


NAMED = {c: n for n, c in reversed(html.entities.html5.items()) if n.endswith(";") and len(c) == 1}
TURKISH_KEY = 'çğıöşüÇĞİÖŞÜ/+=%"\\&<>k3yAbC'


@pytest.mark.parametrize(
    "encode",
    [
        html.escape,
        lambda s: "".join(f"&#{ord(c)};" for c in s),
        lambda s: "".join(f"&#x{ord(c):X};" for c in s),
        lambda s: "".join(f"&{NAMED[c]}" if c in NAMED else c for c in s),  # &ccedil; &sol;
        lambda s: html.escape(html.escape(s)),  # &amp;quot;
        lambda s: html.escape("".join(f"&#{ord(c)};" for c in s)),
    ],
)
def test_html_entities_numeric_named_and_nested(encode):
    assert clean(f"<p>{encode(TURKISH_KEY)}</p>", TURKISH_KEY, encode)


@pytest.mark.parametrize("prefix", ["", "a", "ab", "abc", "/SmsGonder?api_key="])
@pytest.mark.parametrize("encoder", [base64.b64encode, base64.urlsafe_b64encode])
@pytest.mark.parametrize("inner", [lambda s: s, url])
def test_base64_at_every_alignment(prefix, encoder, inner):
    encoded = encoder((prefix + inner(TURKISH_KEY) + "&x=1").encode()).decode()
    for cut in range(4):  # quoted from any byte on, cut short, without padding
        for quoted in (f"return={encoded[cut:]} end", encoded[cut:].rstrip("=")[:-3]):
            redacted = Redactor([TURKISH_KEY])(quoted)
            assert encoded[cut + 4 : cut + 20] not in redacted, redacted


@pytest.mark.parametrize("length", range(8, len(KEY) + 1))
def test_truncated_prefixes_of_8_or_more(length):
    body = json.dumps({"api_key": KEY, "phone": ["+905321234567"]})
    for echo in (body, url(body), json.dumps(body)):
        cut = echo[: echo.index("CANARY") + length]
        assert clean(f"Syntax error near: {cut}")


def test_clean_text_is_given_back_as_it_is_and_json_stays_json():
    redactor = Redactor([KEY, PASSWORD])
    ok = '{"durum":true,"aciklama":"Ba\\u015far\\u0131l\\u0131 905321234567"}'
    assert redactor.reply(ok) is ok
    hostile = json.dumps({"durum": False, "aciklama": f"bad {url(url(KEY))}", "n": [1.5, None]})
    reply = json.loads(redactor.reply("\ufeff" + hostile))
    assert reply == {"durum": False, "aciklama": "bad ***", "n": [1.5, None]}


def test_the_edge_gives_the_driver_a_redacted_response():
    request = httpx.Request("POST", "https://x/SmsGonder")
    page = f"<a href='/login?return={url(url(KEY))}'>giriş</a>"
    headers = {"Location": f"/login?return={url(KEY, 2)}", "X-Id": "7"}
    headers["Content-Type"] = "text/html; charset=windows-1254"
    moved = httpx.Response(302, headers=headers, content=page.encode("cp1254"), request=request)
    redacted = redact_response(moved, Redactor([KEY]))
    assert (redacted.status_code, redacted.request, redacted.headers["X-Id"]) == (302, request, "7")
    assert redacted.headers["Location"] == "/login?return=***"
    assert redacted.text == redacted.content.decode() == "<a href='/login?return=***'>giriş</a>"
    fine = httpx.Response(200, json={"durum": True, "aciklama": 7}, request=request)
    assert redact_response(fine, Redactor([KEY])) is fine


# --- the property: a hostile provider, any chain of encodings ---------------------------------

ENCODINGS: dict[str, Callable[[str], str]] = {
    "url": url,
    "url-path": quote,
    "url-plus": quote_plus,
    "url-lower": lambda s: re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), url(s)),
    "json": lambda s: json.dumps(s),
    "json-utf8": lambda s: json.dumps(s, ensure_ascii=False),
    "json-php": lambda s: json.dumps(s).replace("/", "\\/"),
    "html": html.escape,
    "html-numeric": lambda s: "".join(c if c.isalnum() else f"&#{ord(c)};" for c in s),
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64-url": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
}
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + '/+=%"\\&<>'
ALPHABET += "çğıöşüÇĞİÖŞÜ"
secrets_st = st.text(ALPHABET, min_size=12, max_size=40).filter(
    lambda s: sum(c.isascii() and c.isalnum() for c in s) >= 4
)
WRAPS = {
    "customersms": lambda e: json.dumps({"success": False, "error": e}),
    "vairosms": lambda e: json.dumps({"durum": False, "aciklama": e}),
    "masgsm": lambda e: json.dumps({"code": 400, "message": e}),
}


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    secret=secrets_st,
    provider=st.sampled_from(["customersms", "vairosms", "masgsm"]),
    command=st.sampled_from(["send", "balance"]),
    chain=st.lists(st.sampled_from(sorted(ENCODINGS)), min_size=1, max_size=4),
    cut=st.none() | st.floats(0.0, 1.0),
    status=st.sampled_from([200, 302, 400, 500]),
    wrapped=st.booleans(),
)
def test_no_chain_of_encodings_gets_a_secret_out(
    cli, emulator, secret, provider, command, chain, cut, status, wrapped
):
    command = command if provider == "masgsm" else "send"

    def hostile(req: RecordedRequest) -> str:
        echo = echoed(req)
        for name in chain:
            echo = ENCODINGS[name](echo)
        if cut is not None:
            echo = echo[: int(len(echo) * cut)]
        return WRAPS[provider](echo) if wrapped else f"error: {echo}"

    def location(req: RecordedRequest) -> list[tuple[str, str]]:
        return [("Location", "/login?return=" + quote(hostile(req)))] if status == 302 else []

    emulator.reset()
    emulator.echo(provider, hostile, status=status, headers=location, process=False)
    credentials = {"SMSCLI_PASSWORD": secret} if provider == "masgsm" else {}
    env = {**env_for(emulator, provider), "SMSCLI_API_KEY": secret, **credentials}
    args = [*SEND] if command == "send" else ["balance", "--debug"]
    with tempfile.TemporaryDirectory() as data:
        env["SMSCLI_LEDGER"] = str(Path(data) / "ledger.db")
        out = cli(*args, env=env)
        files = [p.read_bytes() for p in Path(data).glob("ledger.db*")]
    assert emulator.requests, out.stderr
    blobs = [out.stdout, out.stderr, *(re.sub(r" *\n *", "", o) for o in (out.stdout, out.stderr))]
    blobs += [b.decode(codec, "replace") for b in files for codec in ("latin-1", "utf-8")]
    found = leaks(blobs, [secret])
    if not any(name.startswith("base64") for name in chain):  # nor the secret as it was sent
        found += [f"{w!r} encoded" for w in windows(secret) for b in blobs if image(w, chain) in b]
    assert not found, (chain, found[:3])


def image(text: str, chain: list[str]) -> str:
    """``text`` through ``chain`` as it is within the echo (no quotes around a JSON string)."""
    for name in chain:
        text = ENCODINGS[name](text)[1:-1] if name.startswith("json") else ENCODINGS[name](text)
    return text
