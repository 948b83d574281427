"""configure_logging: JSON lines with extras; RedactSecrets masks registered secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from interconnect_operator import redaction
from interconnect_operator.logging_setup import RedactSecrets, configure_logging
from interconnect_operator.redaction import MASK, redact

SECRET = "cak-00112233445566778899aabbccddeeff"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    yield buffer
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
    root.setLevel(saved_level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_fixed_fields_and_extras(stream: io.StringIO) -> None:
    configure_logging("INFO", json_format=True, stream=stream)
    log = logging.getLogger("interconnect_operator.test")
    log.info(
        "link %s is %s",
        "db-link",
        "Ready",
        extra={"link": "db-link", "namespace": "team-a", "pool": "p1", "phase": "Ready"},
    )
    log.warning("placement refused", extra={"reason": "InsufficientCapacity", "attempt": 3})
    log.debug("not shown at INFO")
    records = lines(stream)
    assert len(records) == 2
    first = records[0]
    assert first["message"] == "link db-link is Ready"
    assert first["level"] == "INFO"
    assert first["logger"] == "interconnect_operator.test"
    assert str(first["timestamp"]).endswith("Z")
    assert first["link"] == "db-link"
    assert first["namespace"] == "team-a"
    assert first["pool"] == "p1"
    assert first["phase"] == "Ready"
    assert records[1]["reason"] == "InsufficientCapacity"
    assert records[1]["attempt"] == 3


def test_multiline_message_and_exception_stay_on_one_line(stream: io.StringIO) -> None:
    configure_logging("INFO", json_format=True, stream=stream)
    log = logging.getLogger("interconnect_operator.test")
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        log.exception("first line\nsecond line", extra={"link": "l1"})
    raw = stream.getvalue().splitlines()
    assert len(raw) == 1
    record = json.loads(raw[0])
    assert record["message"] == "first line\nsecond line"
    assert "ValueError: bad" in str(record["exception"])
    assert record["link"] == "l1"


def test_unserialisable_extra_is_written_as_text(stream: io.StringIO) -> None:
    configure_logging("INFO", json_format=True, stream=stream)
    logging.getLogger("t").info("x", extra={"when": object()})
    assert str(lines(stream)[0]["when"]).startswith("<object object")


def test_kopf_object_extras_become_a_compact_reference(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Once kopf is configured in the same process its K8sPoster handler sits on
    # kopf.objects and would try to post this record as an Event: keep it out.
    monkeypatch.setattr(logging.getLogger("kopf.objects"), "handlers", [])
    configure_logging("INFO", json_format=True, stream=stream)
    logging.getLogger("kopf.objects").info(
        "Handler succeeded.",
        extra={
            "k8s_ref": {"kind": "MulticloudLink", "namespace": "team-a", "name": "l1", "uid": "u"},
            "k8s_skip": False,
            "settings": object(),
        },
    )
    record = lines(stream)[0]
    assert record["object"] == {"kind": "MulticloudLink", "namespace": "team-a", "name": "l1"}
    assert "settings" not in record
    assert "k8s_skip" not in record


def test_reconfiguring_replaces_the_handler(stream: io.StringIO) -> None:
    configure_logging("INFO", json_format=True, stream=stream)
    configure_logging("INFO", json_format=True, stream=stream)
    logging.getLogger("t").info("once")
    assert len(lines(stream)) == 1


def test_text_format_shows_extras_as_key_value(stream: io.StringIO) -> None:
    configure_logging("DEBUG", json_format=False, stream=stream)
    logging.getLogger("t").debug("reconciled", extra={"link": "l1", "reason": "Two words"})
    out = stream.getvalue()
    assert "DEBUG t: reconciled" in out
    assert "link=l1" in out
    assert 'reason="Two words"' in out


def test_unknown_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("LOUD", json_format=True, stream=io.StringIO())


def test_registered_secret_is_masked_in_message_args_extras_and_exception(
    stream: io.StringIO,
) -> None:
    configure_logging("INFO", json_format=True, stream=stream)
    redaction.hold("test", [SecretStr(SECRET)])
    log = logging.getLogger("interconnect_operator.test")
    log.info("key is " + SECRET)
    log.info("key is %s", SECRET)
    log.info("payload", extra={"body": {"cak": SECRET, "list": [SECRET]}, "link": "ns/l1"})
    try:
        raise RuntimeError(f"provider echoed {SECRET}")
    except RuntimeError:
        log.exception("call failed")
    out = stream.getvalue()
    assert SECRET not in out
    records = lines(stream)
    assert records[0]["message"] == f"key is {MASK}"
    assert records[1]["message"] == f"key is {MASK}"
    assert records[2]["body"] == {"cak": MASK, "list": [MASK]}
    assert records[2]["link"] == "ns/l1"
    assert f"provider echoed {MASK}" in str(records[3]["exception"])


def test_secret_is_masked_in_text_format_too(stream: io.StringIO) -> None:
    configure_logging("INFO", json_format=False, stream=stream)
    redaction.hold("test", [SECRET])
    logging.getLogger("t").info("token %s", SECRET, extra={"token": SECRET})
    assert SECRET not in stream.getvalue()
    assert MASK in stream.getvalue()


def test_filter_alone_rewrites_the_record() -> None:
    redaction.hold("test", [SECRET])
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "a=%s b=%d", (SECRET, 7), None)
    assert RedactSecrets().filter(record) is True
    assert record.getMessage() == f"a={MASK} b=7"
    assert record.args is None


def test_secret_with_trailing_newline_and_containing_secrets() -> None:
    redaction.hold("a", ["md5-password\n"])
    redaction.hold("b", ["outer-md5-password-long"])
    # The stripped form is held; the longer secret is masked whole.
    assert redact("x md5-password y") == f"x {MASK} y"
    assert redact("outer-md5-password-long") == MASK
    assert redact("md5-password md5-password") == f"{MASK} {MASK}"


def test_short_values_are_not_held_and_release_forgets() -> None:
    redaction.hold("short", ["prod", "abcdefg"])
    assert redact("prod abcdefg") == "prod abcdefg"
    redaction.hold("test", [SECRET])
    redaction.release("test")
    assert redact(SECRET) == SECRET


def test_holding_again_replaces_and_a_value_lives_while_any_owner_holds_it() -> None:
    redaction.hold("link/a/x/md5", ["first-password"], scope="a")
    redaction.hold("link/a/x/md5", ["second-password"], scope="a")
    assert redact("first-password") == "first-password"
    assert redact("second-password") == MASK
    redaction.hold("link/a/y/md5", ["second-password"], scope="a")
    redaction.release_prefix("link/a/x/")
    assert redact("second-password") == MASK
    redaction.release_prefix("link/a/y/")
    assert redact("second-password") == "second-password"
    assert redaction.contains_secret("second-password") is False


def test_a_tenant_value_masks_its_own_and_unattributed_text_never_another_tenants() -> None:
    redaction.hold("link/evil/x/md5", ["production"], scope="evil")
    line = "pool production-east refreshed"
    assert redact(line, "team-a") == line
    assert redact(line, redaction.OPERATOR_ONLY) == line
    assert redact(line, "evil") == f"pool {MASK}-east refreshed"
    assert redact(line) == f"pool {MASK}-east refreshed"
    # The operator's own values mask everywhere.
    redaction.hold("pool/p/aws", ["operator-token-value"])
    assert redact("t=operator-token-value", "team-a") == f"t={MASK}"


def test_log_records_of_another_tenant_are_not_masked_by_a_tenants_values(
    stream: io.StringIO,
) -> None:
    configure_logging("INFO", json_format=True, stream=stream)
    redaction.hold("link/evil/x/md5", ["production"], scope="evil")
    log = logging.getLogger("interconnect_operator.test")
    log.info("link production-db ready", extra={"link": "team-a/production-db"})
    token = redaction.current_tenant.set("team-a")
    try:
        log.info("calling production-east")
    finally:
        redaction.current_tenant.reset(token)
    log.info("echo production", extra={"link": "evil/x"})
    records = lines(stream)
    assert records[0]["message"] == "link production-db ready"
    assert records[1]["message"] == "calling production-east"
    assert records[2]["message"] == f"echo {MASK}"


def test_matching_is_literal_and_costs_no_compile() -> None:
    values = [f"secret-value-{i:05d}" for i in range(5000)]
    redaction.hold("many", values)
    text = "a (regex) .* [chars] secret-value-04999 and secret-value-00000."
    assert redact(text) == f"a (regex) .* [chars] {MASK} and {MASK}."
    redaction.hold("regexy", ["a.*b+c(d)?e"])
    assert redact("xa.*b+c(d)?ex aXXbbcde") == f"x{MASK}x aXXbbcde"
