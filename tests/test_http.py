"""The shared source HTTP helpers: Retry-After reading and delays."""

from __future__ import annotations

import email.utils

import pytest

from bridge.infra.backoff import Backoff
from bridge.infra.errors import SourceUnavailable
from bridge.sources.http import MAX_RETRY_AFTER, RateLimited, parse_retry_after, retry_delay

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("86400", MAX_RETRY_AFTER),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        # Unusable: the caller's back-off decides.
        ("0", None),
        ("-5", None),
        ("nan", None),
        ("inf", None),
        ("-inf", None),
        ("soon", None),
        ("", None),
        (None, None),
        (email.utils.formatdate(NOW - 30, usegmt=True), None),
        ("Mon, 01 Jan 0001 00:00:00 GMT", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_unusable_retry_after_backs_off_exponentially() -> None:
    backoff = Backoff(1.0, 60.0, rand=lambda: 1.0)
    err = RateLimited(parse_retry_after("-1", now=NOW))
    assert [retry_delay(err, backoff) for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert retry_delay(RateLimited(3.0), backoff) == 3.0
    # A 429 never retries under a second; other errors follow the back-off alone.
    assert retry_delay(RateLimited(0.01), Backoff(0.1, 1.0, rand=lambda: 1.0)) == 1.0
    assert retry_delay(SourceUnavailable("x"), Backoff(0.1, 1.0, rand=lambda: 1.0)) == 0.1


def test_backoff_stays_bounded_and_exact_through_ten_thousand_attempts() -> None:
    # 2.0 ** 1024 overflowed a float: a device unplugged ~6 h lost its task.
    top = Backoff(0.5, 30.0, rand=lambda: 1.0)
    bottom = Backoff(0.5, 30.0, rand=lambda: 0.0)
    highs = [top.next() for _ in range(10_000)]
    lows = [bottom.next() for _ in range(10_000)]
    assert highs[:8] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert set(highs[6:]) == {30.0} and set(lows[6:]) == {15.0}  # equal jitter at the cap
    assert all(0.25 <= d <= 30.0 for d in lows + highs)
    top.reset()
    assert top.next() == 0.5
    # A slow factor takes thousands of steps to reach its cap, and still gets there.
    slow = Backoff(1e-300, 60.0, factor=1.01, rand=lambda: 1.0)
    assert [slow.next() for _ in range(100_000)][-1] == 60.0


@pytest.mark.parametrize(
    ("initial", "maximum", "factor"),
    [
        (0, 1, 2),
        (2, 1, 2),
        (1, 2, 0.5),
        (1, float("inf"), 2),
        (float("nan"), 1, 2),
        (1, 2, float("nan")),
    ],
)
def test_backoff_refuses_settings_that_never_settle(
    initial: float, maximum: float, factor: float
) -> None:
    with pytest.raises(ValueError):
        Backoff(initial, maximum, factor)


def test_plain_http_clients_load_no_ca_bundle_and_https_ones_verify() -> None:
    import ssl

    from bridge.sources.http import _tls_for

    plain = _tls_for("http://127.0.0.1:8888")
    assert isinstance(plain, ssl.SSLContext)
    # Trusts nothing: a TLS handshake through it fails rather than going unchecked.
    assert plain.verify_mode is ssl.CERT_REQUIRED and plain.check_hostname
    assert plain.get_ca_certs() == []
    assert _tls_for("HTTPS://agp.example/api/v2") is True
