"""Tests for the job hash codec, the JSON-native argument check and the error fields."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import re
import uuid
import zlib
from typing import Any

import orjson
import pytest

from roadie import payload
from roadie.errors import JobArgumentError, PayloadError


class Point:
    """A user-defined class, which JSON cannot carry."""


class Seconds(float):
    """A float subclass, like numpy.float64, that orjson cannot encode."""


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message for you")


def rejection(value: Any, path: str = "args") -> str:
    """Return the message check_json_native raises for ``value``."""
    with pytest.raises(JobArgumentError) as info:
        payload.check_json_native(value, path)
    return str(info.value)


# ------------------------------------------------------------------ decode


def test_decode_valid_job_hash() -> None:
    raw = b'{"class":"HardJob","args":[1,"two"],"jid":"abc","custom":{"x":1}}'

    job = payload.decode(raw)

    assert job == {"class": "HardJob", "args": [1, "two"], "jid": "abc", "custom": {"x": 1}}


def test_decode_accepts_str_input() -> None:
    job = payload.decode('{"class":"HardJob","args":[]}')

    assert job["class"] == "HardJob"


@pytest.mark.parametrize("raw", [b"not json", b"{", b'{"class":"A","args":[]} trailing', b"\xff\xfe"])
def test_decode_rejects_invalid_json(raw: bytes) -> None:
    with pytest.raises(PayloadError, match="not valid JSON"):
        payload.decode(raw)


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"HardJob"', b"42", b"null"])
def test_decode_rejects_json_non_object(raw: bytes) -> None:
    with pytest.raises(PayloadError, match="not an object"):
        payload.decode(raw)


@pytest.mark.parametrize("raw", [b'{"args":[]}', b'{"class":"","args":[]}', b'{"class":7,"args":[]}'])
def test_decode_rejects_missing_class(raw: bytes) -> None:
    with pytest.raises(PayloadError, match="'class'"):
        payload.decode(raw)


@pytest.mark.parametrize("raw", [b'{"class":"A"}', b'{"class":"A","args":{"a":1}}', b'{"class":"A","args":"x"}'])
def test_decode_rejects_args_non_list(raw: bytes) -> None:
    with pytest.raises(PayloadError, match="'args' list"):
        payload.decode(raw)


@pytest.mark.parametrize("kwargs", ["[1]", '"x"', "3"])
def test_decode_rejects_kwargs_non_object(kwargs: str) -> None:
    raw = '{"class":"A","args":[],"kwargs":' + kwargs + "}"

    with pytest.raises(PayloadError, match="'kwargs'"):
        payload.decode(raw)


def test_decode_accepts_kwargs_object() -> None:
    job = payload.decode(b'{"class":"A","args":[],"kwargs":{"user_id":3}}')

    assert job["kwargs"] == {"user_id": 3}


def test_payload_error_is_roadie_error() -> None:
    from roadie.errors import RoadieError

    with pytest.raises(RoadieError):
        payload.decode(b"nope")


# ------------------------------------------------------- check_json_native


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -(2**63),
        2**64 - 1,
        1.5,
        "text",
        "",
        [],
        {},
        [1, "a", None, [2.5, {"k": [True]}]],
        {"nested": {"deeper": [1, 2, {"x": None}]}},
    ],
)
def test_check_json_native_accepts_natives(value: Any) -> None:
    payload.check_json_native(value, "args")


REJECTED = [
    (dt.datetime(2024, 1, 2, 3, 4, 5), "datetime", "ISO 8601"),
    (dt.date(2024, 1, 2), "date", "ISO 8601"),
    (decimal.Decimal("1.10"), "Decimal", "str(value)"),
    (uuid.UUID(int=1), "UUID", "str(value)"),
    (b"raw", "bytes", "base64"),
    ((1, 2), "tuple", "pass a list"),
    ({1, 2}, "set", "pass a list"),
    (Point(), "Point", "such as an id"),
    (Seconds(1.5), "Seconds", "float(value)"),
]


@pytest.mark.parametrize(("value", "type_name", "hint"), REJECTED, ids=[row[1] for row in REJECTED])
def test_check_json_native_names_path_and_fix(value: Any, type_name: str, hint: str) -> None:
    message = rejection([1, {"when": value}])

    assert message.startswith("args[1]['when']: ")
    assert type_name in message
    assert "not JSON-serializable" in message
    assert hint in message


def test_check_json_native_datetime_message() -> None:
    message = rejection([1, {"when": dt.datetime(2024, 1, 2)}])

    assert message == (
        "args[1]['when']: datetime is not JSON-serializable; "
        "pass an ISO 8601 string (value.isoformat()) or epoch seconds"
    )


def test_check_json_native_non_string_key() -> None:
    message = rejection({"ok": {1: "one"}}, "kwargs")

    assert message.startswith("kwargs['ok']: key 1 ")
    assert "int" in message
    assert "str()" in message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_check_json_native_rejects_nan_inf(value: float) -> None:
    message = rejection([0, [value]])

    assert message.startswith("args[1][0]: ")
    assert "finite number or null" in message


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_check_json_native_rejects_huge_int(value: int) -> None:
    message = rejection({"n": value}, "kwargs")

    assert message.startswith("kwargs['n']: ")
    assert "64 bits" in message
    assert "string" in message


def test_check_json_native_first_offender_named() -> None:
    message = rejection([{"a": [1, {"b": (1,)}]}, b"second"])

    assert message.startswith("args[0]['a'][1]['b']: tuple")


# ------------------------------------------------------------------ new_jid


def test_new_jid_is_24_hex() -> None:
    jid = payload.new_jid()

    assert re.fullmatch(r"[0-9a-f]{24}", jid)


def test_new_jid_values_unique() -> None:
    jids = {payload.new_jid() for _ in range(10_000)}

    assert len(jids) == 10_000


# ------------------------------------------------------ safe_error_message


def test_error_message_plain() -> None:
    assert payload.safe_error_message(ValueError("bad input")) == "bad input"


def test_error_message_truncated_to_limit() -> None:
    message = payload.safe_error_message(ValueError("x" * 20_000))

    assert len(message) == 10_000
    assert payload.ERROR_MESSAGE_MAX_CHARS == 10_000


def test_error_message_short_kept_whole() -> None:
    text = "y" * 10_000

    assert payload.safe_error_message(ValueError(text)) == text


def test_error_message_lone_surrogate_replaced() -> None:
    broken = b"caf\xe9".decode("utf-8", "surrogateescape")

    message = payload.safe_error_message(ValueError(broken))

    assert message.encode("utf-8") == b"caf?"


def test_error_message_survives_json() -> None:
    broken = "\ud800 half a pair"

    message = payload.safe_error_message(RuntimeError(broken))

    assert orjson.loads(orjson.dumps({"error_message": message}))["error_message"] == message


def test_error_message_str_raises() -> None:
    assert payload.safe_error_message(UnprintableError()) == "!!! ERROR MESSAGE THREW AN ERROR !!!"


def test_describe_error_class_names() -> None:
    assert payload.describe_error_class(ValueError()) == "ValueError"
    assert payload.describe_error_class(UnprintableError()) == f"{__name__}.UnprintableError"


# ---------------------------------------------------------------- backtrace


def test_backtrace_round_trip() -> None:
    lines = ['File "app.py", line 3, in run', "  raise ValueError('é')", "ValueError: é"]

    encoded = payload.encode_backtrace(lines)

    assert "\n" not in encoded
    assert payload.decode_backtrace(encoded) == lines


def test_backtrace_encoding_is_sidekiq_format() -> None:
    lines = ["a", "b"]

    encoded = payload.encode_backtrace(lines)

    assert orjson.loads(zlib.decompress(base64.b64decode(encoded))) == lines


def test_backtrace_decodes_mime_base64() -> None:
    # Sidekiq before 7.2.1 used Ruby's Base64.encode64: a newline after every
    # 60 characters and one at the end.
    lines = [f"/app/lib/worker_{index}.rb:{index}:in `perform'" for index in range(40)]
    strict = base64.b64encode(zlib.compress(orjson.dumps(lines))).decode("ascii")
    mime = "".join(strict[i : i + 60] + "\n" for i in range(0, len(strict), 60))
    assert mime.count("\n") > 2

    assert payload.decode_backtrace(mime) == lines


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        base64.b64encode(b"not zlib data").decode("ascii"),
        base64.b64encode(zlib.compress(b"{not json")).decode("ascii"),
        base64.b64encode(zlib.compress(b'{"a": 1}')).decode("ascii"),
        base64.b64encode(zlib.compress(b"[1, 2]")).decode("ascii"),
    ],
    ids=["not-base64", "not-zlib", "not-json", "object", "not-strings"],
)
def test_backtrace_garbage_raises_valueerror(value: str) -> None:
    with pytest.raises(ValueError, match="error_backtrace"):
        payload.decode_backtrace(value)


# ----------------------------------------------------------- option_problem

VALID_OPTIONS = [
    ("queue", "critical"),
    ("queue", "a-b_c:d.e"),
    ("retry", True),
    ("retry", False),
    ("retry", 0),
    ("retry", 5),
    ("backtrace", True),
    ("backtrace", 20),
    ("tags", ["billing", "slow"]),
    ("tags", ("billing",)),
    ("tags", []),
    ("retry_queue", "retries"),
    ("retry_for", 3600),
    ("retry_for", 0.5),
    ("dead", False),
    ("dead", True),
]

INVALID_OPTIONS = [
    ("queue", ""),
    ("queue", "has space"),
    ("queue", 3),
    ("retry", -1),
    ("retry", "5"),
    ("retry", 2.5),
    ("backtrace", -3),
    ("backtrace", "all"),
    ("tags", "billing"),
    ("tags", ["ok", 3]),
    ("retry_queue", "bad/name"),
    ("retry_for", 0),
    ("retry_for", -5),
    ("retry_for", True),
    ("retry_for", "60"),
    ("dead", 1),
    ("dead", "false"),
]


@pytest.mark.parametrize(("name", "value"), VALID_OPTIONS)
def test_option_problem_valid_values(name: str, value: Any) -> None:
    assert payload.option_problem(name, value) is None


@pytest.mark.parametrize(("name", "value"), INVALID_OPTIONS)
def test_option_problem_invalid_values(name: str, value: Any) -> None:
    problem = payload.option_problem(name, value)

    assert problem is not None
    assert f"job option {name!r}" in problem
    assert repr(value) in problem
    assert "expected" in problem


def test_option_problem_covers_every_option() -> None:
    tested = {name for name, _ in INVALID_OPTIONS}

    assert tested == payload.JOB_OPTIONS


def test_option_problem_unknown_option() -> None:
    problem = payload.option_problem("priority", 3)

    assert problem is not None
    assert "unknown job option 'priority'" in problem
    assert "retry_queue" in problem


# ------------------------------------------------------------ Ruby's floats

# What Ruby 3.1's JSON.generate writes for each float, as Sidekiq encodes it.
RUBY_FLOATS = [
    (9.99e14, "999000000000000.0"),
    (1e15, "1.0e+15"),
    (999999999999999.9, "999999999999999.9"),
    (1.5e15, "1.5e+15"),
    (12345678901234567.0, "1.2345678901234568e+16"),
    (1e22, "1.0e+22"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (0.0001, "0.0001"),
    (0.000099, "9.9e-05"),
    (1.5e-5, "1.5e-05"),
    (1e-7, "1.0e-07"),
    (-2.5e-10, "-2.5e-10"),
    (5e-324, "5.0e-324"),
    (123456.789, "123456.789"),
    (0.5, "0.5"),
    (0.0, "0.0"),
    (-0.0, "-0.0"),
]


@pytest.mark.parametrize(("value", "ruby"), RUBY_FLOATS, ids=[ruby for _, ruby in RUBY_FLOATS])
def test_dumps_writes_floats_as_ruby(value: float, ruby: str) -> None:
    assert payload.dumps({"args": [value]}) == b'{"args":[' + ruby.encode() + b"]}"


def test_dumps_ruby_floats_nested() -> None:
    job = {"args": [{"tiny": 1e-7, "list": [1e16, 2.5]}], "at": 1.5e-5, "text": "1e-7 0.00001"}

    assert payload.dumps(job) == (
        b'{"args":[{"tiny":1.0e-07,"list":[1.0e+16,2.5]}],"at":1.5e-05,"text":"1e-7 0.00001"}'
    )
    assert payload.decode(payload.dumps({"class": "X", "args": [1e-7, 1e16]}))["args"] == [1e-7, 1e16]
