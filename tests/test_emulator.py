"""The provider emulator itself: documented reply shapes, PHP form parsing, faults, limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulator import Emulator, parse_php_form

TR = "+905321112233"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e
    assert e.errors == []


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def cs_send(client: httpx.Client, emu: Emulator, phone: Any, message: str = "hi") -> httpx.Response:
    return client.post(
        emu.base_url("customersms") + "/sms_system/api.php",
        json={"api_key": emu.CUSTOMERSMS_KEY, "phone": phone, "message": message},
    )


def mas_post(client: httpx.Client, emu: Emulator, body: str) -> httpx.Response:
    auth = f"u={emu.MASGSM_USER}&p={emu.MASGSM_PASS}&"
    return client.post(
        emu.base_url("masgsm") + "/api_post.php",
        content=auth + body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


# -- documented success shapes ----------------------------------------------------------------


def test_customersms_success_shape(emu: Emulator, client: httpx.Client) -> None:
    emu.reject_numbers.add("+905550000000")
    r = cs_send(client, emu, [TR, "12125551234", "+90 532", "+905550000000"])
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "success", "message", "total_numbers", "successful_sends",
        "failed_sends", "remaining_credits", "results",
    }  # fmt: skip
    assert body["success"] is True and body["message"] == "SMS sending completed"
    assert (body["total_numbers"], body["successful_sends"], body["failed_sends"]) == (4, 2, 2)
    assert body["remaining_credits"] == 1_000_000 - 2
    ok, us, bad, rejected = body["results"]
    assert ok["success"] and ok["message_id"].startswith("msg_") and ok["phone"] == TR
    assert us["success"] and us["message_id"] != ok["message_id"]
    assert bad == {"phone": "+90 532", "success": False, "error": "Invalid phone number"}
    assert rejected["success"] is False
    assert [m.to for m in emu.received] == [TR, "+12125551234"]
    assert emu.received_by("05321112233")[0].message_id == ok["message_id"]

    r = client.post(
        emu.base_url("customersms") + "/sms_system/api.php",
        json={"api_key": "nope", "phone": TR, "message": "x"},
    )
    assert r.status_code == 401 and r.json()["code"] == "INVALID_API_KEY"
    emu.set_credits("customersms", 1)
    r = cs_send(client, emu, f"{TR},+905321112234")
    assert r.status_code == 402 and r.json()["code"] == "INSUFFICIENT_CREDITS"
    assert len(emu.received) == 2


def test_vairosms_send_and_reports(emu: Emulator, client: httpx.Client) -> None:
    base = emu.base_url("vairosms")
    key = {"api_key": emu.VAIROSMS_KEY}
    emu.undelivered_numbers.add("+905321112234")
    payload = {
        "baslik": "ACME",
        "tr_char": True,
        "mesajlar": [{"msg": "bir", "dest": "905321112233"}, {"msg": "iki", "dest": "5321112234"}],
    }
    r = client.post(base + "/SmsGonder", params=key, json=payload)
    assert r.status_code == 200
    body = r.json()
    assert body["durum"] is True and isinstance(body["aciklama"], int)
    send_id = body["aciklama"]
    assert [(m.to, m.text, m.sender, m.turkish) for m in emu.received] == [
        (TR, "bir", "ACME", True),
        ("+905321112234", "iki", "ACME", True),
    ]
    assert emu.received[0].message_id == emu.received[0].batch_id == str(send_id)

    info = client.get(f"{base}/GonderimBilgisi/{send_id}", params=key).json()
    assert info["durum"] is True and info["aciklama"]["paket_durum"] == 1
    assert info["aciklama"]["numara_toplam"] == 2
    rep = client.post(f"{base}/NumaraRaporu/{send_id}", params=key, json={"numara": "5321112234"})
    assert rep.json()["aciklama"]["durum_gonderim"] == "NOT_DELIVERED"
    missing = client.get(f"{base}/GonderimBilgisi/999999", params=key)
    assert missing.status_code == 404 and missing.json()["durum"] is False

    bad_header = client.post(base + "/SmsGonder", params=key, json={**payload, "baslik": "X"})
    assert bad_header.status_code == 400
    assert bad_header.json() == {"durum": False, "aciklama": "INVALID_SOURCE_ADDRESS"}
    bad_dest = {"baslik": "ACME", "mesajlar": [{"msg": "x", "dest": "+905321112233"}]}
    r = client.post(base + "/SmsGonder", params=key, json=bad_dest)
    assert r.json()["aciklama"] == "INVALID_DESTINATION_ADDRESS"
    r = client.post(base + "/SmsGonder", params={"api_key": "nope"}, json=payload)
    assert r.status_code == 401 and r.json()["durum"] is False
    assert len(emu.received) == 2


def test_masgsm_codes_reports_balance_headers(emu: Emulator, client: httpx.Client) -> None:
    r = mas_post(
        client, emu, "type=0&message=Merhaba&title=ACME&numbers=5321112233,5321112234&lang=tr"
    )
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == 1 and body["id"]
    assert [m.to for m in emu.received] == [TR, "+905321112234"] and emu.received[0].turkish
    report = mas_post(client, emu, f"type=2&id={body['id']}").json()
    assert report == {"Iletilen": ["5321112233", "5321112234"], "Hatali": [], "Bekleyen": []}
    balance = mas_post(client, emu, "type=4").json()
    assert balance == {"code": 1, "message": "Hesap Bakiyesi", "balance": "999998"}

    assert (
        mas_post(client, emu, "type=0&message=x&title=YASAK&numbers=5321112233").json()["code"]
        == 403
    )
    assert (
        mas_post(client, emu, "type=0&message=x&title=NOPE&numbers=5321112233").json()["code"]
        == 402
    )
    assert (
        mas_post(client, emu, "type=0&message=x&title=ACME&numbers=905321112233").json()["code"]
        == 405
    )
    assert mas_post(client, emu, "type=0&title=ACME&numbers=5321112233").json()["code"] == 400
    emu.set_credits("masgsm", 1)
    partial = mas_post(client, emu, "type=0&message=p&title=ACME&numbers=5321112235,5321112236")
    assert partial.json()["code"] == 3
    assert [m.to for m in emu.received_by("5321112235")] == ["+905321112235"]
    assert emu.received_by("5321112236") == []
    assert (
        mas_post(client, emu, "type=0&message=p&title=ACME&numbers=5321112236").json()["code"] == 2
    )

    legacy = client.post(
        emu.base_url("masgsm") + "/",
        data={"user": emu.MASGSM_USER, "pass": emu.MASGSM_PASS, "apiNo": "3"},
    )
    assert legacy.json() == ["ACME", "TEST"]
    wrong = client.post(emu.base_url("masgsm") + "/", data={"user": "x", "pass": "y", "apiNo": "3"})
    assert wrong.text == "401"


def test_masgsm_plain_reply() -> None:
    with Emulator(masgsm_reply="plain") as emu, httpx.Client() as client:
        r = mas_post(client, emu, "type=0&message=x&title=ACME&numbers=5321112233")
        code, send_id = r.text.split(" ")
        assert code == "1" and send_id == emu.received[0].message_id
        assert mas_post(client, emu, "type=0&title=ACME&numbers=5321112233").text == "400"


# -- PHP form parsing -------------------------------------------------------------------------


def test_parse_php_form() -> None:
    assert parse_php_form(b"message[0]=a&message[1]=b%20c") == {"message": ["a", "b c"]}
    assert parse_php_form(b"message=a&message=b") == {"message": "b"}
    assert parse_php_form(b"m[]=a&m[]=b&m[5]=c&m[]=d") == {
        "m": {"0": "a", "1": "b", "5": "c", "6": "d"}
    }
    assert parse_php_form(b"r[username]=u&r[x][y]=z&a.b=1&c[d=2") == {
        "r": {"username": "u", "x": {"y": "z"}},
        "a_b": "1",
        "c_d": "2",
    }
    assert parse_php_form(b"t=%C5%9Fe+ker") == {"t": "şe ker"}


def test_masgsm_type1_needs_a_php_array(emu: Emulator, client: httpx.Client) -> None:
    ok = mas_post(
        client, emu, "type=1&title=ACME&numbers=5321112233,5321112234&message[0]=bir&message[1]=iki"
    )
    assert ok.json()["code"] == 1
    assert [(m.to, m.text) for m in emu.received] == [(TR, "bir"), ("+905321112234", "iki")]
    assert emu.requests[-1].form is not None and emu.requests[-1].form["message"] == ["bir", "iki"]
    # A repeated plain key is one string (the last): not an array → 400, nothing sent.
    bad = mas_post(
        client, emu, "type=1&title=ACME&numbers=5321112233,5321112234&message=bir&message=iki"
    )
    assert bad.json()["code"] == 400
    # type=0 with a repeated key sends only the last text.
    mas_post(client, emu, "type=0&title=ACME&numbers=5321112235&message=bir&message=iki")
    assert [m.text for m in emu.received_by("5321112235")] == ["iki"]


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "processed"),
    [
        ("429", 429, False),
        ("503-retry-after", 503, False),
        ("500", 500, False),
        ("502-html", 502, False),
        ("html-404", 404, False),
        ("html-200", 200, True),
        ("empty-200", 200, True),
        ("500-after-processing", 500, True),
    ],
)
def test_status_faults(
    emu: Emulator, client: httpx.Client, fault: str, status: int, processed: bool
) -> None:
    emu.inject("customersms", fault, retry_after=2)
    r = cs_send(client, emu, TR)
    assert r.status_code == status
    assert len(emu.received) == int(processed)
    if fault in ("429", "503-retry-after"):
        assert r.headers["Retry-After"] == "2"
    if fault in ("html-200", "502-html"):
        assert r.text.lstrip().startswith("<")
    assert cs_send(client, emu, TR).json()["success"] is True  # the fault was used up


def test_timeout_after_processing(emu: Emulator) -> None:
    emu.inject("vairosms", "timeout-after-processing", delay=2)
    body = {"baslik": "ACME", "mesajlar": [{"msg": "x", "dest": "905321112233"}]}
    with httpx.Client(timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        client.post(
            emu.base_url("vairosms") + "/SmsGonder", params={"api_key": emu.VAIROSMS_KEY}, json=body
        )
    assert [m.to for m in emu.received] == [TR]


def test_drop_after_and_before_processing(emu: Emulator, client: httpx.Client) -> None:
    emu.inject("masgsm", "drop-after-processing")
    emu.inject("masgsm", "drop-before-processing")
    with pytest.raises(httpx.RemoteProtocolError):
        mas_post(client, emu, "type=0&message=a&title=ACME&numbers=5321112233")
    assert [m.text for m in emu.received] == ["a"]
    with pytest.raises(httpx.RemoteProtocolError):
        mas_post(client, emu, "type=0&message=b&title=ACME&numbers=5321112233")
    assert [m.text for m in emu.received] == ["a"]
    # Non-send requests never consume faults.
    emu.inject("masgsm", "500")
    assert mas_post(client, emu, "type=4").json()["code"] == 1
    assert emu.pending_faults("masgsm") == ["500"]


def test_rate_limit() -> None:
    with Emulator(rate_limit_per_second=3) as emu, httpx.Client() as client:
        statuses = [cs_send(client, emu, TR).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        assert emu.rate_limited == 2 and len(emu.received) == 3
        assert cs_send(client, emu, TR).headers.get("Retry-After") == "1"


def test_latency_does_not_serialise() -> None:
    with Emulator(latency=0.5) as emu, httpx.Client(limits=httpx.Limits(max_connections=20)) as c:
        start = time.monotonic()
        threads = [threading.Thread(target=cs_send, args=(c, emu, TR)) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - start < 3.0  # serialised would take 5 s
        assert len(emu.received) == 10


def test_duplicates_and_reset(emu: Emulator, client: httpx.Client) -> None:
    cs_send(client, emu, TR, "once")
    cs_send(client, emu, "905321112234", "twice")
    assert emu.duplicates() == {}
    cs_send(client, emu, ["+905321112234"], "twice")
    assert emu.duplicates() == {"+905321112234": 2}
    emu.reject_numbers.add(TR)
    emu.inject("customersms", "500")
    emu.reset()
    assert emu.received == [] and emu.duplicates() == {} and emu.received_by(TR) == []
    assert emu.reject_numbers == set() and emu.pending_faults("customersms") == []


def test_stop_with_idle_keepalive_connection() -> None:
    emu = Emulator().start()
    thread = emu._thread
    assert thread is not None
    with httpx.Client() as client:
        assert cs_send(client, emu, TR).status_code == 200  # leaves an idle pooled connection
        url = emu.base_url("customersms") + "/sms_system/api.php"
        started = time.monotonic()
        emu.stop()
        assert time.monotonic() - started < 10  # a hang would never return
        with pytest.raises(RuntimeError):
            _ = emu.url
        with pytest.raises(httpx.TransportError):
            client.post(url, json={})
    assert not thread.is_alive()
