"""Every refusal of the guard, through real requests to real servers on loopback."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from portal.live import AllowList, Guard, Refused, Unreachable, parse_entry
from portal.live.fetch import fetch
from portal.settings import Settings
from tests.live.conftest import FakeService


def get(guard: Guard, url: str, **options: object) -> int:
    fetched = fetch(guard, "GET", url, timeout=2.0, max_bytes=64 * 1024, **options)  # type: ignore[arg-type]
    return fetched.status


def allow(*entries: str) -> Guard:
    return Guard(AllowList.parse(entries))


class Resolver:
    """Answers the guard's name lookups from a script; one answer per call, the last repeats."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_an_allow_listed_address_is_called(service: FakeService) -> None:
    assert get(allow(service.host), f"{service.url}/healthz") == 200
    assert service.paths() == ["/healthz"]


def test_a_host_off_the_allow_list_is_refused_before_any_request(service: FakeService) -> None:
    with pytest.raises(Refused) as refused:
        get(allow("api.example.com"), f"{service.url}/healthz")
    assert str(refused.value) == (
        f"127.0.0.1:{service.port} is not on the allow-list (api.example.com); an administrator "
        "can add it to PORTAL_LIVE_ALLOWED_HOSTS"
    )
    assert service.received == []


def test_the_port_of_an_entry_counts(service: FakeService) -> None:
    with pytest.raises(Refused, match="is not on the allow-list"):
        get(allow(f"127.0.0.1:{service.port + 1}"), f"{service.url}/healthz")
    assert service.received == []


def test_loopback_through_a_name_is_refused_unless_the_address_is_listed(
    service: FakeService,
) -> None:
    url = f"http://localhost:{service.port}/healthz"
    # The name is allowed, but it resolves to loopback, which only an address entry allows.
    with pytest.raises(Refused) as refused:
        get(allow(f"localhost:{service.port}"), url)
    assert "a loopback address, which is refused unless the allow-list names it" in str(
        refused.value
    )
    assert service.received == []
    assert get(allow(f"localhost:{service.port}", "127.0.0.0/8", "::1"), url) == 200


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4 loopback in IPv6 clothing
    ],
)
def test_a_wildcard_never_lets_a_private_answer_through(address: str, kind: str) -> None:
    guard = Guard(AllowList.parse(["*.quantum.example"]), Resolver([address]))
    with pytest.raises(Refused) as refused:
        guard.check("https://evil.quantum.example/healthz")
    assert f"resolves to {address.removeprefix('::ffff:')}, a {kind} address" in str(refused.value)


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    guard = Guard(AllowList.parse(["api.quantum.example"]), Resolver(["8.8.8.8", "10.0.0.7"]))
    with pytest.raises(Refused, match=r"resolves to 10\.0\.0\.7, a private address"):
        guard.check("https://api.quantum.example/")


def test_a_listed_network_allows_its_private_addresses() -> None:
    resolver = Resolver(["10.20.0.5"])
    guard = Guard(AllowList.parse(["*.internal.example", "10.20.0.0/16"]), resolver)
    target = guard.check("http://orders.internal.example:8080/healthz")
    assert target.addresses == ("10.20.0.5",)
    assert target.host_header == "orders.internal.example:8080"


def test_the_request_goes_to_the_address_checked_not_a_second_answer(
    service: FakeService,
) -> None:
    # DNS rebinding: the first answer passes the check, a later one would point elsewhere.
    # The name does not exist at all: the request reaching the fake service proves the
    # portal connected to the checked address with the name only in the Host header.
    resolver = Resolver(["127.0.0.1"], ["10.9.9.9"])
    guard = Guard(AllowList.parse([f"rebind.test:{service.port}", "127.0.0.1"]), resolver)
    assert get(guard, f"http://rebind.test:{service.port}/healthz") == 200
    assert resolver.calls == ["rebind.test"]
    assert service.received[0].headers["host"] == f"rebind.test:{service.port}"


def test_a_redirect_to_another_host_is_refused(service: FakeService) -> None:
    service.elsewhere = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(Refused) as refused:
        get(allow(service.host), f"{service.url}/elsewhere", follow_redirects=True)
    assert str(refused.value) == (
        "redirects to another host (http://169.254.169.254/latest/meta-data/); only redirects "
        f"within http://127.0.0.1:{service.port} are followed"
    )


def test_a_redirect_to_another_allow_listed_port_is_another_host(service: FakeService) -> None:
    service.elsewhere = f"http://127.0.0.1:{service.port + 1}/healthz"
    with pytest.raises(Refused, match="redirects to another host"):
        get(allow("127.0.0.1"), f"{service.url}/elsewhere", follow_redirects=True)


def test_a_redirect_within_the_host_is_followed(service: FakeService) -> None:
    assert get(allow(service.host), f"{service.url}/same", follow_redirects=True) == 200
    assert service.paths() == ["/same", "/healthz"]
    # Not followed unless asked: the console shows a redirect as it is.
    assert get(allow(service.host), f"{service.url}/same") == 302


@pytest.mark.parametrize("path", ["/huge", "/huge-stream"])
def test_an_answer_over_the_size_limit_is_refused(service: FakeService, path: str) -> None:
    with pytest.raises(Refused, match=r"over the limit of 65,536 bytes \(PORTAL_LIVE_MAX_BYTES\)"):
        get(allow(service.host), f"{service.url}{path}")


def test_the_console_keeps_the_first_bytes_of_a_large_answer(service: FakeService) -> None:
    fetched = fetch(
        allow(service.host), "GET", f"{service.url}/huge", timeout=2, max_bytes=100, truncate=True
    )
    assert fetched.truncated and fetched.body == b"x" * 100


def test_a_slow_service_times_out(service: FakeService) -> None:
    with pytest.raises(Unreachable, match=r"no answer within 0\.3 s"):
        fetch(allow(service.host), "GET", f"{service.url}/slow", timeout=0.3, max_bytes=100)


def test_nothing_listening_is_unreachable(service: FakeService) -> None:
    port = service.port
    service.server.server_close()
    with pytest.raises(Unreachable, match="no connection"):
        get(allow(f"127.0.0.1:{port}"), f"http://127.0.0.1:{port}/healthz")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1/x", "only http and https URLs are called, not 'ftp'"),
        ("http://user:pw@127.0.0.1/", "a URL with credentials in it is never called"),
        ("http:///nohost", "has no host"),
    ],
)
def test_urls_the_guard_never_calls(url: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        allow("127.0.0.1").check(url)


def test_a_name_that_does_not_resolve_is_unreachable() -> None:
    guard = allow("nowhere.invalid")
    with pytest.raises(Unreachable, match=r"nowhere\.invalid could not be resolved"):
        guard.check("https://nowhere.invalid/healthz")


def test_allow_list_entries_and_their_messages() -> None:
    assert parse_entry("*.Example.com:8443").name == "example.com"
    assert parse_entry("[::1]:8080").port == 8080
    assert str(parse_entry("10.0.0.0/8").network) == "10.0.0.0/8"
    for bad in ("http://x.example", "*.", "a b", "ex*ample.com", "host:0", "host:http"):
        with pytest.raises(ValueError, match=repr(bad).replace("*", r"\*")):
            parse_entry(bad)
    with pytest.raises(ValidationError) as invalid:
        Settings(live_allowed_hosts=["api.example.com", "https://api.example.com"])
    assert "'https://api.example.com': expected a host (api.example.com), *.example.com" in str(
        invalid.value
    )


def test_the_default_allows_portal_serve_only_without_single_sign_on() -> None:
    development = AllowList.effective(None, sso=False)
    assert development.allows_host("127.0.0.1", 8000)
    assert not development.allows_host("127.0.0.1", 8001)
    assert not AllowList.effective(None, sso=True).allows_host("127.0.0.1", 8000)
    # A setting, even an empty one, replaces the default.
    assert not AllowList.effective([], sso=False).allows_host("127.0.0.1", 8000)
