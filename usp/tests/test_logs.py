"""The services' log lines never carry a signature or a token, whoever logs them."""

from __future__ import annotations

import io
import logging

import pytest

from usp.logs import make_handler, redact, redact_logger

SIG = "bm90LWEtcmVhbC1zaWduYXR1cmU"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"PATCH /uploads/s1?owner=u&size=5&expires=9&kid=k1&sig={SIG} 204",
            "PATCH /uploads/s1?owner=u&size=5&expires=9&kid=k1&sig=[redacted] 204",
        ),
        (f"http://h/uploads/s1?sig={SIG}&kid=k1", "http://h/uploads/s1?sig=[redacted]&kid=k1"),
        (
            "metadata (('authorization', 'Bearer s3cr3t-token'),)",
            "metadata (('authorization', 'Bearer [redacted]'),)",
        ),
        ("Authorization: Token 0123abcd", "Authorization: Token [redacted]"),
        ('{"authorization": "Token 0123abcd"}', '{"authorization": "Token [redacted]"}'),
        (
            "Token created for user 7; signature checked",
            "Token created for user 7; signature checked",
        ),
        ("design=1&size=2", "design=1&size=2"),
    ],
)
def test_redact_hides_signatures_and_tokens_and_nothing_else(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_every_line_is_redacted_arguments_fields_and_tracebacks_included() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("usp.tests.redaction")
    logger.addHandler(make_handler(stream))
    logger.propagate = False
    try:
        logger.warning('"%s %s" 200', "PUT", f"/uploads/s1?kid=k&sig={SIG}")
        logger.info("call", extra={"fields": {"url": f"/uploads/s2?sig={SIG}"}})
        try:
            raise ValueError(f"bad location /uploads/s3?sig={SIG}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.handlers.clear()
        logger.propagate = True

    output = stream.getvalue()
    assert SIG not in output
    assert '"PUT /uploads/s1?kid=k&sig=[redacted]" 200' in output
    assert "call url=/uploads/s2?sig=[redacted]" in output
    assert "ValueError: bad location /uploads/s3?sig=[redacted]" in output


def test_a_redacting_logger_hides_signatures_from_any_handler_keeping_its_arguments() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("usp.tests.access")
    logger.addHandler(handler)
    logger.propagate = False
    redact_logger("usp.tests.access")
    redact_logger("usp.tests.access")
    try:
        path = f"/uploads/s1?kid=k&sig={SIG}"
        logger.warning('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "PATCH", path, "1.1", 204)
    finally:
        logger.handlers.clear()
        logger.filters.clear()
        logger.propagate = True

    assert (
        stream.getvalue() == '127.0.0.1:5 - "PATCH /uploads/s1?kid=k&sig=[redacted] HTTP/1.1" 204\n'
    )
