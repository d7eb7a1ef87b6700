"""Reading spreadsheets as people save them: UTF-8 (with or without BOM) or Windows-1254
(Turkish Excel), separated by ``,`` ``;`` or tab, with a phone column to find.

``csv.Sniffer`` guesses wrong on short or quoted headers, so the delimiter is the one that
occurs most often outside quotes in the header line.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator

from smscli.errors import InputError

DELIMITERS = (",", ";", "\t")
PHONE_HEADERS = (
    "phone",
    "telefon",
    "tel",
    "gsm",
    "cep",
    "mobile",
    "msisdn",
    "number",
    "numara",
    "phone_number",
    "telefon_no",
    "tel_no",
    "cep_telefonu",
    "cep_tel",
    "gsm_no",
    "mobile_number",
)


def decode(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str]:
    """Text and the encoding used: the given one, else UTF-8 (BOM stripped), else cp1254."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(
                f"{name} line {line}: byte 0x{data[exc.start]:02x} is not valid {encoding}"
            ) from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    # cp1254 maps all but five bytes; those five mean the file is neither.
    try:
        return data.decode("cp1254"), "cp1254"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name} line {line}: byte 0x{data[exc.start]:02x} is neither UTF-8 nor Windows-1254",
            hint="pass --encoding",
        ) from None


def detect_delimiter(header: str) -> str | None:
    """The delimiter seen most often outside quotes in the header line, or None."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else None


def _key(header: str) -> str:
    folded = unicodedata.normalize("NFKD", header.strip().casefold().replace("ı", "i"))
    return "".join(c for c in folded if not unicodedata.combining(c)).replace(" ", "_")


def find_phone_column(headers: list[str], name: str) -> int:
    keys = [_key(h) for h in headers]
    for candidate in PHONE_HEADERS:
        if candidate in keys:
            return keys.index(candidate)
    for i, key in enumerate(keys):
        if any(key.startswith(c) or key.endswith(c) for c in ("phone", "telefon", "gsm", "cep")):
            return i
    raise InputError(
        f"{name}: no phone column among {', '.join(headers)}",
        hint="name it with --phone-column",
    )


def read_numbers(
    data: bytes, name: str, phone_column: str | None = None
) -> Iterator[tuple[str, str]]:
    """``(raw number, source)`` from a CSV with a header or from one number per line."""
    text, _ = decode(data, name)
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    delimiter = detect_delimiter(first)
    if delimiter is None and phone_column is None and any(c.isdigit() for c in first):
        for i, line in enumerate(lines, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                yield line.strip(), f"{name} line {i}"
        return
    reader = csv.reader(io.StringIO(text), delimiter=delimiter or ",")
    try:
        headers = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    if phone_column is not None:
        if phone_column not in headers:
            raise InputError(f"{name}: no column {phone_column!r} among {', '.join(headers)}")
        col = headers.index(phone_column)
    else:
        col = find_phone_column(headers, name)
    for row in reader:
        if not any(v.strip() for v in row):
            continue
        if col >= len(row):
            raise InputError(
                f"{name} line {reader.line_num}: {len(row)} fields, "
                f"the phone column is field {col + 1}"
            )
        yield row[col], f"{name} line {reader.line_num}"
