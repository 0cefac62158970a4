"""No secret or credential reaches a log line."""

from __future__ import annotations

import logging

import pytest

from portal.logs import MaskSecrets, masked


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /api/v1/entities HTTP/1.1 Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("used qp_AbCdEf123456_s3cr3tValue-_x", "s3cr3tValue"),
        ('"GET /auth/callback?code=SPLx8&state=q9Zr HTTP/1.1" 303', "SPLx8"),
        ("/logout?id_token_hint=eyJhbGciOi.x.y", "eyJhbGciOi"),
    ],
)
def test_credentials_are_masked(line: str, secret: str) -> None:
    assert secret not in masked(line)
    assert "****" in masked(line)


def test_the_filter_masks_arguments_before_formatting() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s" %d',
        ("127.0.0.1:5000", "GET", "/auth/callback?code=ONE-TIME&state=x", 303),
        None,
    )
    MaskSecrets().filter(record)
    assert "ONE-TIME" not in record.getMessage()
    assert "/auth/callback?code=****&state=****" in record.getMessage()


def test_plain_lines_are_untouched() -> None:
    line = "GET /catalog?kind=api&q=payments HTTP/1.1 200"
    assert masked(line) == line
