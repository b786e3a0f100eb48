"""The custom JSON parser: kinds, fields, signatures, the setup hint and hostile input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import custom
from parsers.errors import ParseError, PayloadError, SignatureError, UnsupportedContentTypeError
from parsers.event import JSON, Event

SAMPLES_DIR = Path(__file__).parents[2] / "parsers" / "samples" / "custom"
JSON_HEADERS = {"Content-Type": "application/json"}
SECRET = "kC3v0Yc1tq0mB1m9hXc0Ue5lHqVdJ8gT2sWp4rNa7zE"
SEED_BODY = b'{"event": "Server Alert", "message": "CPU usage at 95%"}'
# The Standard Webhooks specification's published test vector (also in Svix's docs).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def parse_one(body: bytes | Any, headers: dict[str, str] | None = None, **options: JSON) -> Event:
    """Parse a body (bytes, or a value to encode as JSON) that must give one Event."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    events = custom.parse(JSON_HEADERS if headers is None else headers, raw, options)
    assert len(events) == 1
    return events[0]


def standard_headers(
    body: bytes, secret: str, msg_id: str = "msg_1", ts: int = 1_700_000_000
) -> dict[str, str]:
    """Build Standard Webhooks headers the way the specification describes them."""
    key = (
        base64.b64decode(secret.removeprefix("whsec_"))
        if secret.startswith("whsec_")
        else secret.encode()
    )
    digest = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


# --------------------------------------------------------------------------- module contract


def test_module_exposes_the_service_contract() -> None:
    assert custom.SERVICE == "custom"
    assert custom.CONTENT_TYPES == ("application/json",)
    assert custom.DEFAULT_SELECTION == ("custom.*",)
    assert all(custom.KIND_GRAMMAR.fullmatch(kind) for kind in custom.KINDS)
    assert set(custom.FIELD_DOCS) == {"custom"}
    assert {"payload", "body_json"} <= set(custom.FIELD_DOCS["custom"])


@pytest.mark.parametrize("name", sorted(custom.SAMPLES))
def test_each_sample_parses_to_its_kind(name: str) -> None:
    body = (SAMPLES_DIR / f"{name}.json").read_bytes()
    event = parse_one(body, custom.sample_headers(name))
    assert event.kind == custom.SAMPLES[name]
    assert event.service == event.provider == "custom"
    assert event.fields["payload"] == json.loads(body)


def test_sample_files_and_samples_table_agree() -> None:
    assert {path.stem for path in SAMPLES_DIR.glob("*.json")} == set(custom.SAMPLES)
    assert set(custom.KINDS) <= set(custom.SAMPLES.values())


def test_sample_headers_are_fresh_copies_and_unknown_names_fail() -> None:
    first = custom.sample_headers("server_alert")
    first["Content-Type"] = "text/plain"
    assert custom.sample_headers("server_alert")["Content-Type"] == "application/json"
    with pytest.raises(KeyError, match="no custom sample"):
        custom.sample_headers("nope")


# --------------------------------------------------------------------------- identify


def test_identify_reads_no_body_and_names_the_custom_event() -> None:
    assert custom.identify({}, b"{not json") == ("custom", None)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"webhook-id": "msg_1", "Idempotency-Key": "k", "X-Request-Id": "r"}, "msg_1"),
        ({"IDEMPOTENCY-KEY": "k", "x-request-id": "r"}, "k"),
        ({"X-Request-ID": "  r-1  "}, "r-1"),
        ({"Webhook-Id": "   ", "X-Request-Id": "r"}, "r"),
        ({"User-Agent": "curl/8"}, None),
    ],
)
def test_delivery_id_takes_the_first_header_present(
    headers: dict[str, str], expected: str | None
) -> None:
    assert custom.identify(headers, b"")[1] == expected
    assert parse_one(b"{}", headers | JSON_HEADERS).delivery_id == (expected or "")


def test_an_overlong_delivery_id_is_hashed_not_cut() -> None:
    long_a, long_b = "a" * 300 + "1", "a" * 300 + "2"
    id_a = custom.identify({"webhook-id": long_a}, b"")[1]
    id_b = custom.identify({"webhook-id": long_b}, b"")[1]
    assert id_a == "sha256:" + hashlib.sha256(long_a.encode()).hexdigest()
    assert id_a != id_b


# --------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"event": "Server Alert"}, "custom.server_alert"),
        ({"event": "deploy.finished"}, "custom.deploy.finished"),
        ({"type": "Invoice.Paid!!"}, "custom.invoice.paid"),
        ({"kind": "..a..b.."}, "custom.a.b"),
        ({"action": "  Build -- Failed  "}, "custom.build_failed"),
        ({"event": "disk_full"}, "custom.disk_full"),
        ({"event": "404"}, "custom.404"),
        ({"event": "Ålert"}, "custom.lert"),
        ({"event": "!!!", "type": "backup"}, "custom.backup"),
        ({"event": 3, "kind": "x"}, "custom.x"),
        ({"event": {"type": "nested"}}, "custom.event"),
        ({"type": "a", "event": "b"}, "custom.b"),
        ({"message": "no kind field"}, "custom.event"),
        ({"event": ""}, "custom.event"),
    ],
)
def test_kind_comes_from_the_first_usable_field(body: dict[str, Any], kind: str) -> None:
    assert parse_one(body).kind == kind


def test_slug_is_bounded_and_never_ends_in_a_separator() -> None:
    assert len(custom.slug("x" * 10_000)) == custom.MAX_SLUG
    cut = custom.slug("a" * 63 + ".b")
    assert cut == "a" * 63
    assert custom.slug("a" * 63 + "_" + "b") == "a" * 63


@given(st.text(max_size=300))
def test_any_event_value_gives_a_well_formed_kind(value: str) -> None:
    kind = custom.kind_of({"event": value})
    assert custom.KIND_GRAMMAR.fullmatch(kind)
    assert len(kind) <= len("custom.") + custom.MAX_SLUG


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize("body", [b"", b"   \r\n\t"])
def test_an_empty_post_is_a_custom_event(body: bytes) -> None:
    for headers in ({}, JSON_HEADERS, {"Content-Type": "application/x-www-form-urlencoded"}):
        event = parse_one(body, headers)
        assert event.kind == "custom.event"
        assert event.title == "Custom event"
        assert dict(event.fields) == {"payload": None, "body_json": None}


@pytest.mark.parametrize(
    ("body", "payload"),
    [(b"[1, 2]", [1, 2]), (b'"hi"', "hi"), (b"42", 42), (b"true", True), (b"null", None)],
)
def test_json_that_is_not_an_object_is_the_payload(body: bytes, payload: JSON) -> None:
    event = parse_one(body)
    assert event.kind == "custom.event"
    assert event.title == "Custom event"
    assert event.fields["payload"] == payload
    assert event.fields["body_json"] == json.dumps(payload, separators=(",", ":"))
    assert set(event.fields) == {"payload", "body_json"}


@pytest.mark.parametrize(
    "body",
    [b"{", b"{'a': 1}", b'{"a": 1} trailing', b"\xff\xfe", b"NaN", b'{"a": 1e999}', b"[1,]"],
)
def test_malformed_json_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError, match="not valid JSON"):
        custom.parse(JSON_HEADERS, body, {})


def test_a_missing_content_type_is_read_as_json() -> None:
    assert parse_one(SEED_BODY, {}).kind == "custom.server_alert"
    assert parse_one(SEED_BODY, {"content-type": "Application/JSON; charset=utf-8"}).title


def test_another_content_type_is_refused() -> None:
    with pytest.raises(UnsupportedContentTypeError, match="application/json"):
        custom.parse({"Content-Type": "text/plain"}, SEED_BODY, {})


# --------------------------------------------------------------------------- fields


def test_seed_body_lifts_its_keys_and_keeps_the_payload() -> None:
    event = parse_one(SEED_BODY)
    assert event.kind == "custom.server_alert"
    assert event.title == "CPU usage at 95%"
    assert event.fields["event"] == "Server Alert"
    assert event.fields["message"] == "CPU usage at 95%"
    assert event.fields["payload"] == json.loads(SEED_BODY)
    assert isinstance(event.fields, MappingProxyType)


def test_only_scalar_identifier_keys_are_lifted() -> None:
    body = {
        "host": "web-01",
        "value": 95.5,
        "count": 3,
        "ok": False,
        "missing": None,
        "tags": ["a"],
        "meta": {"k": "v"},
        "with space": "x",
        "dotted.key": "x",
        "1st": "x",
        "k" * 65: "x",
        "payload": "mine",
        "body_json": "mine too",
    }
    fields = parse_one(body).fields
    lifted = set(fields) - {"payload", "body_json"}
    assert lifted == {"host", "value", "count", "ok"}
    assert fields["payload"] == body
    assert fields["body_json"] != "mine too"


def test_only_the_first_200_keys_are_considered() -> None:
    body = {f"k{i}": i for i in range(300)}
    fields = parse_one(body).fields
    assert {key for key in fields if key.startswith("k")} == {f"k{i}" for i in range(200)}
    assert fields["payload"] == body


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ({"title": "T", "message": "M", "text": "X"}, "T"),
        ({"message": "M", "event": "E"}, "M"),
        ({"title": "   ", "text": "X"}, "X"),
        ({"title": 5, "summary": "S"}, "S"),
        ({"event": "E", "name": "N"}, "E"),
        ({"name": "N"}, "N"),
        ({"title": "two\nlines\x00and\x1b[31mcolour\t"}, "two lines and [31mcolour"),
        ({"other": "x"}, "Custom event"),
    ],
)
def test_title_is_the_first_title_like_string_on_one_line(body: dict[str, Any], title: str) -> None:
    assert parse_one(body).title == title


def test_title_is_bounded() -> None:
    title = parse_one({"title": "x" * 100_000}).title
    assert len(title) == custom.MAX_TITLE
    assert title.endswith("…")


@pytest.mark.parametrize(
    ("body", "url"),
    [
        ({"url": "https://example.com/a?b=1"}, "https://example.com/a?b=1"),
        ({"url": "ftp://example.com", "link": "http://example.com/l"}, "http://example.com/l"),
        ({"url": "javascript:alert(1)", "html_url": "HTTPS://Example.com"}, "HTTPS://Example.com"),
        ({"url": "https://"}, None),
        ({"url": "https://exa mple.com"}, None),
        ({"url": "https://example.com/\nx"}, None),
        ({"url": "https://[::1"}, None),
        ({"url": 5}, None),
        ({"url": "https://example.com/" + "a" * 3000}, None),
    ],
)
def test_url_is_an_http_address_or_nothing(body: dict[str, Any], url: str | None) -> None:
    assert parse_one(body).url == url


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"status": "CRITICAL"}, "critical"),
        ({"state": "Resolved", "level": "info"}, "resolved"),
        ({"severity": 3}, "3"),
        ({"status": True, "level": "warn"}, "warn"),
        ({"status": "  "}, None),
        ({}, None),
    ],
)
def test_status_is_the_first_status_like_value_lower_cased(
    body: dict[str, Any], status: str | None
) -> None:
    assert parse_one(body).status == status


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2024-05-01T12:30:00Z", "2024-05-01T12:30:00+00:00"),
        ("2024-05-01T14:30:00+02:00", "2024-05-01T12:30:00+00:00"),
        ("2024-05-01 12:30:00", "2024-05-01T12:30:00+00:00"),
        ("yesterday", None),
        (1714566600, None),
        ("2024-05-01T12:30:00Z" + " " * 100, None),
    ],
)
def test_occurred_at_is_an_iso_timestamp_in_utc(value: JSON, iso: str | None) -> None:
    occurred = parse_one({"timestamp": value}).occurred_at
    assert (occurred.isoformat() if occurred else None) == iso


def test_later_time_keys_are_read_when_earlier_ones_do_not_parse() -> None:
    event = parse_one({"timestamp": "soon", "created_at": "2024-01-02T03:04:05Z"})
    assert event.occurred_at is not None
    assert event.occurred_at.isoformat() == "2024-01-02T03:04:05+00:00"


def test_actor_and_branch_come_from_their_fields() -> None:
    event = parse_one({"author": "bob", "user": "carol", "branch": "main"})
    assert (event.actor, event.branch) == ("bob", "main")
    assert parse_one({"actor": ["x"], "username": "dave"}).actor == "dave"


def test_source_is_the_target_then_the_user_agent_then_custom() -> None:
    headers = JSON_HEADERS | {"User-Agent": "PulseMonitor/2"}
    assert parse_one(b"{}", headers, target="monitoring").source == "monitoring"
    assert parse_one(b"{}", headers, target="  ").source == "PulseMonitor/2"
    assert parse_one(b"{}", headers, target=5).source == "PulseMonitor/2"
    assert parse_one(b"{}").source == "custom"


# --------------------------------------------------------------------------- signatures


def test_standard_webhooks_published_vector() -> None:
    headers = custom.sign_standard(VECTOR_BODY, VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP)
    assert headers["webhook-signature"] == VECTOR_SIGNATURE
    custom.verify(headers, VECTOR_BODY, VECTOR_SECRET)
    custom.verify_with_options(headers, VECTOR_BODY, VECTOR_SECRET, {}, now=VECTOR_TIMESTAMP + 10)


def test_standard_webhooks_key_is_the_secret_bytes_unless_whsec() -> None:
    headers = standard_headers(SEED_BODY, SECRET)
    custom.verify(headers, SEED_BODY, SECRET)
    # A library given `whsec_` + base64(secret) signs with the same key.
    whsec = "whsec_" + base64.b64encode(SECRET.encode()).decode()
    custom.verify(standard_headers(SEED_BODY, whsec), SEED_BODY, SECRET)
    assert custom.sign_standard(SEED_BODY, whsec, "msg_1", 1) == custom.sign_standard(
        SEED_BODY, SECRET, "msg_1", 1
    )


def test_sign_gives_a_hub_signature_that_verifies() -> None:
    headers = custom.sign(SEED_BODY, SECRET)
    expected = hmac.new(SECRET.encode(), SEED_BODY, hashlib.sha256).hexdigest()
    assert headers == {"X-Hub-Signature-256": f"sha256={expected}"}
    custom.verify(headers, SEED_BODY, SECRET)
    custom.verify({"x-hub-signature-256": headers["X-Hub-Signature-256"]}, SEED_BODY, SECRET)


def test_a_rotation_list_passes_when_one_v1_entry_matches() -> None:
    good = standard_headers(SEED_BODY, SECRET)
    wrong = standard_headers(SEED_BODY, "old-secret")["webhook-signature"]
    listed = good | {
        "webhook-signature": f"{wrong} v1a,AAAA garbage v1,%%% {good['webhook-signature']}"
    }
    custom.verify(listed, SEED_BODY, SECRET)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"webhook-signature": "v1a,AAAA"}, "no v1 signature"),
        ({"webhook-signature": "v1,not base64!"}, "no v1 signature"),
        ({"webhook-signature": "v2,AAAA"}, "no v1 signature"),
        ({"webhook-signature": "v1,AAAA"}, "does not match"),
        ({"webhook-id": "msg_other"}, "does not match"),
        ({"webhook-timestamp": "1700000001"}, "does not match"),
        ({"webhook-id": ""}, "without webhook-id"),
        ({"webhook-timestamp": "  "}, "without webhook-timestamp"),
        ({"webhook-timestamp": "17e8"}, "not Unix seconds"),
        ({"webhook-timestamp": "-1"}, "not Unix seconds"),
        ({"webhook-timestamp": "١٧٠٠٠٠٠٠٠٠"}, "not Unix seconds"),
    ],
)
def test_a_bad_standard_signature_is_refused(change: dict[str, str], reason: str) -> None:
    headers = standard_headers(SEED_BODY, SECRET) | change
    with pytest.raises(SignatureError, match=reason):
        custom.verify_with_options(headers, SEED_BODY, SECRET, {})


def test_a_standard_signature_over_another_body_is_refused() -> None:
    headers = standard_headers(SEED_BODY, SECRET)
    with pytest.raises(SignatureError, match="does not match"):
        custom.verify_with_options(headers, SEED_BODY + b" ", SECRET, {})


@pytest.mark.parametrize(
    ("offset", "ok"), [(0, True), (300, True), (-300, True), (301, False), (-301, False)]
)
def test_standard_timestamp_tolerance_when_the_clock_is_given(offset: int, ok: bool) -> None:
    ts = 1_700_000_000
    headers = standard_headers(SEED_BODY, SECRET, ts=ts)
    if ok:
        custom.verify_with_options(headers, SEED_BODY, SECRET, {}, now=ts + offset)
    else:
        with pytest.raises(SignatureError, match="5 minutes"):
            custom.verify_with_options(headers, SEED_BODY, SECRET, {}, now=ts + offset)


@pytest.mark.parametrize("signed", [False, True])
def test_a_wrong_hub_signature_is_refused_whatever_the_options(signed: bool) -> None:
    headers = custom.sign(SEED_BODY, "another-secret")
    with pytest.raises(SignatureError, match="does not match"):
        custom.verify_with_options(headers, SEED_BODY, SECRET, {"signed": signed})


def test_every_signature_sent_must_verify() -> None:
    headers = custom.sign(SEED_BODY, SECRET) | standard_headers(SEED_BODY, "another-secret")
    with pytest.raises(SignatureError, match="webhook-signature does not match"):
        custom.verify_with_options(headers, SEED_BODY, SECRET, {})
    headers = custom.sign(SEED_BODY, "another-secret") | standard_headers(SEED_BODY, SECRET)
    with pytest.raises(SignatureError, match="signature does not match"):
        custom.verify_with_options(headers, SEED_BODY, SECRET, {})
    custom.verify_with_options(
        custom.sign(SEED_BODY, SECRET) | standard_headers(SEED_BODY, SECRET), SEED_BODY, SECRET, {}
    )


@pytest.mark.parametrize("name", ["X-Hub-Signature-256", "webhook-signature"])
def test_a_blank_signature_header_counts_as_a_signature_that_fails(name: str) -> None:
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000", name: " "}
    with pytest.raises(SignatureError):
        custom.verify_with_options(headers, SEED_BODY, SECRET, {})


@pytest.mark.parametrize("options", [{}, {"signed": False}, {"signed": "yes"}, {"target": "x"}])
def test_unsigned_posts_pass_unless_the_hook_is_signed(options: dict[str, JSON]) -> None:
    custom.verify_with_options(JSON_HEADERS, SEED_BODY, SECRET, options)
    custom.verify_with_options({"webhook-id": "msg_1"}, SEED_BODY, SECRET, options)


def test_a_signed_hook_refuses_unsigned_posts() -> None:
    with pytest.raises(SignatureError, match="requires"):
        custom.verify_with_options(JSON_HEADERS, SEED_BODY, SECRET, {"signed": True})
    custom.verify_with_options(custom.sign(SEED_BODY, SECRET), SEED_BODY, SECRET, {"signed": True})


def test_plain_verify_is_the_strict_policy() -> None:
    with pytest.raises(SignatureError, match="missing signature"):
        custom.verify(JSON_HEADERS, SEED_BODY, SECRET)


def test_a_signature_without_a_configured_secret_never_verifies() -> None:
    for headers in (custom.sign(SEED_BODY, ""), standard_headers(SEED_BODY, "")):
        with pytest.raises(SignatureError, match="no signing secret"):
            custom.verify_with_options(headers, SEED_BODY, "", {})


def test_a_huge_signature_list_is_bounded() -> None:
    headers = standard_headers(SEED_BODY, SECRET)
    headers["webhook-signature"] = (
        " ".join(["v1,AAAA"] * 100_000) + " " + headers["webhook-signature"]
    )
    start = time.perf_counter()
    with pytest.raises(SignatureError):
        custom.verify_with_options(headers, SEED_BODY, SECRET, {})
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------- setup hint


def test_setup_hint_fills_in_and_shows_a_json_curl_line() -> None:
    hint = custom.SETUP_HINT.format(
        url="https://hooks.example.com/webhook/custom/T0K", secret=SECRET
    )
    assert "curl -X POST 'https://hooks.example.com/webhook/custom/T0K'" in hint
    assert "Content-Type: application/json" in hint
    assert SECRET in hint
    assert "{" + "url" not in hint


@pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("openssl") is None,
    reason="the hint's shell lines need bash and openssl",
)
def test_setup_hint_shell_lines_post_what_verifies() -> None:
    """Run the hint's code blocks with `curl` replaced by a function printing its arguments."""
    url = "https://hooks.example.com/webhook/custom/T0K"
    hint = custom.SETUP_HINT.format(url=url, secret=SECRET)
    blocks = re.findall(r"```\n(.*?)```", hint, flags=re.DOTALL)
    assert len(blocks) == 2
    for block, signed in zip(blocks, (False, True), strict=True):
        script = "curl() { printf '%s\\0' \"$@\"; }\n" + block
        run = subprocess.run(["bash", "-c", script], capture_output=True, check=True, timeout=10)
        args = run.stdout.decode().split("\0")[:-1]
        assert args[:3] == ["-X", "POST", url]
        headers = dict(args[i + 1].split(": ", 1) for i, arg in enumerate(args) if arg == "-H")
        body = args[args.index("-d") + 1].encode()
        assert parse_one(body, headers).kind == "custom.server_alert"
        custom.verify_with_options(headers, body, SECRET, {"signed": signed})
    whsec_line = re.search(r"output of `(printf .*?)`", hint)
    assert whsec_line is not None
    encoded = subprocess.run(
        ["bash", "-c", whsec_line[1]], capture_output=True, check=True, timeout=10
    ).stdout.decode()
    whsec = "whsec_" + encoded
    custom.verify(standard_headers(SEED_BODY, whsec), SEED_BODY, SECRET)


# --------------------------------------------------------------------------- compact JSON


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=200)
@given(json_values)
def test_compact_json_round_trips_and_never_holds_a_fence_breaker(value: JSON) -> None:
    text = custom.compact_json(value, limit=10**9)
    assert json.loads(text) == value
    assert "`" not in text
    assert not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in text)
    assert "\u2028" not in text
    assert "\u202e" not in text


@given(json_values, st.integers(min_value=1, max_value=200))
def test_compact_json_respects_its_limit(value: JSON, limit: int) -> None:
    text = custom.compact_json(value, limit=limit)
    full = custom.compact_json(value, limit=10**9)
    assert len(text) <= limit
    if len(full) > limit:
        assert text.endswith("…")
        assert full.startswith(text[:-1])
    else:
        assert text == full


def test_body_json_of_a_big_body_is_cut() -> None:
    body = {"message": "hello", "items": list(range(10_000))}
    preview = parse_one(body).fields["body_json"]
    assert isinstance(preview, str)
    assert len(preview) == custom.PREVIEW_LIMIT
    assert preview.startswith('{"message":"hello","items":[0,1,2,')
    assert preview.endswith("…")


# --------------------------------------------------------------------------- hostile input


def timed_parse(body: bytes) -> tuple[list[Event] | ParseError, float]:
    """Parse, returning the Events or the ParseError and the seconds it took."""
    start = time.perf_counter()
    try:
        result: list[Event] | ParseError = custom.parse(JSON_HEADERS, body, {})
    except ParseError as exc:
        result = exc
    return result, time.perf_counter() - start


@pytest.mark.parametrize(
    "body",
    [b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000],
    ids=["arrays", "objects"],
)
def test_10000_deep_nesting_is_refused_quickly(body: bytes) -> None:
    result, seconds = timed_parse(body)
    assert isinstance(result, PayloadError)
    assert seconds < 1.0


def test_1000_deep_nesting_is_accepted_and_previewed_without_recursion() -> None:
    result, seconds = timed_parse(b'{"event":"deep","x":' + b"[" * 1000 + b"]" * 1000 + b"}")
    assert not isinstance(result, ParseError)
    preview = result[0].fields["body_json"]
    assert isinstance(preview, str)
    assert preview.startswith('{"event":"deep","x":[[[')
    assert len(preview) <= custom.PREVIEW_LIMIT
    assert seconds < 1.0


def test_a_one_megabyte_string_is_bounded_everywhere() -> None:
    huge = "a`b" * 350_000
    body = json.dumps(
        {"event": huge, "title": huge, "status": huge, "url": huge, "time": huge}
    ).encode()
    result, seconds = timed_parse(body)
    assert not isinstance(result, ParseError)
    event = result[0]
    assert len(event.kind) <= len("custom.") + custom.MAX_SLUG
    assert len(event.title) == custom.MAX_TITLE
    assert event.status is not None
    assert len(event.status) <= 64
    assert event.url is None
    assert event.occurred_at is None
    preview = event.fields["body_json"]
    assert isinstance(preview, str)
    assert len(preview) <= custom.PREVIEW_LIMIT
    assert "`" not in preview
    assert seconds < 1.0


def test_control_characters_are_escaped_or_dropped() -> None:
    body = json.dumps({"title": "a\x00b\x07c\u202ed", "event": "x\x00y", "k": "\x1b"}).encode()
    event = parse_one(body)
    assert event.title == "a b c\u202ed"
    assert event.kind == "custom.x_y"
    preview = event.fields["body_json"]
    assert isinstance(preview, str)
    assert "\\u0000" in preview
    assert "\\u202e" in preview
    assert "\\u001b" in preview
    assert json.loads(preview) == json.loads(body)


def test_many_keys_are_bounded_in_time() -> None:
    body = ("{" + ",".join(f'"k{i}":{i}' for i in range(200_000)) + "}").encode()
    result, seconds = timed_parse(body)
    assert not isinstance(result, ParseError)
    assert len(result[0].fields) == custom.MAX_LIFTED_KEYS + 2
    assert seconds < 2.0


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_events_or_a_parse_error(body: bytes) -> None:
    try:
        events = custom.parse(JSON_HEADERS, body, {})
    except ParseError:
        return
    assert len(events) == 1
    assert custom.KIND_GRAMMAR.fullmatch(events[0].kind)


@given(json_values)
def test_any_json_value_parses(value: JSON) -> None:
    event = parse_one(json.dumps(value).encode())
    assert event.fields["payload"] == value
