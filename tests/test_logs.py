"""No secret or credential reaches a log line."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from portal.logs import MaskingFormatter, masked
from tests.conftest import REPO


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


def test_the_formatter_masks_the_whole_line() -> None:
    formatter = MaskingFormatter(logging.Formatter("%(name)s: %(message)s"))
    try:
        raise ValueError("cannot use qp_AbCdEf123456_InTheTraceback")
    except ValueError:
        record = logging.LogRecord(
            "uvicorn.access",
            logging.INFO,
            __file__,
            1,
            "%s %s %r",
            ("GET", "/auth/callback?code=ONE-TIME&state=x", {"bearer": "Bearer TWO"}),
            sys.exc_info(),
        )
    line = formatter.format(record)
    assert "/auth/callback?code=****&state=****" in line
    assert "Bearer ****" in line and "TWO" not in line  # an argument that is no string
    assert "Traceback" in line and "qp_****" in line and "InTheTraceback" not in line


# The real start-up: ``portal serve`` hands log_config() to uvicorn, which gives it to
# logging.dictConfig; a child process keeps this one's logging as it is.
SERVE = textwrap.dedent(
    """
    import logging, logging.config
    from uvicorn.config import Config
    from portal.logs import log_config
    from portal.secrets import remember_secrets
    from portal.settings import Settings

    remember_secrets(Settings(
        oidc_client_secret="client-secret-4711",
        database_url="postgresql://portal:db-pass-4711@db/portal",
    ))
    Config("portal.web.app:app_from_environment", log_config=log_config())

    class Connection:
        def __repr__(self):
            return "Connection(password='db-pass-4711')"

    log = logging.getLogger("portal.web")
    log.info("opened %s", Connection())
    try:
        raise RuntimeError("the provider refused client-secret-4711")
    except RuntimeError:
        log.exception("sign-in failed")
    logging.getLogger("uvicorn.error").error("token %s", b"qp_0123456789ab_RawBytes")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000", "GET", "/auth/callback?code=ONE-TIME&state=x", "1.1", 303,
    )
    logging.getLogger("httpx").warning("retrying with client-secret-4711")
    """
)


def test_every_handler_of_the_served_portal_masks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SERVE], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    for secret in ("db-pass-4711", "client-secret-4711", "RawBytes", "ONE-TIME"):
        assert secret not in output
    assert "opened Connection(password='****')" in done.stderr
    assert "Traceback" in done.stderr and "the provider refused ****" in done.stderr
    assert "token b'qp_****'" in done.stderr
    assert '"GET /auth/callback?code=****&state=**** HTTP/1.1" 303' in done.stdout
    assert "retrying with ****" in done.stderr  # another library's warning, by the root logger


def test_plain_lines_are_untouched() -> None:
    line = "GET /catalog?kind=api&q=payments HTTP/1.1 200"
    assert masked(line) == line
