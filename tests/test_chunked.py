"""The bulk chunked decoder, held to h11 (the parser httpx uses) as the reference."""

from __future__ import annotations

import itertools

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.sources.chunked import MAX_HEADER_LINE, ChunkedDecoder, ChunkError

HEAD = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"


def h11_reading_a_body() -> h11.Connection:
    """An h11 client that has sent a GET and read a chunked response's head."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(HEAD)
    assert isinstance(conn.next_event(), h11.Response)
    return conn


def h11_body(pieces: list[bytes]) -> tuple[bytes, bool]:
    """What h11 makes of a body read in ``pieces``: (payload, complete); raises on bad input."""
    conn = h11_reading_a_body()
    out = bytearray()
    for piece in pieces:
        conn.receive_data(piece)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                break
            if isinstance(event, h11.Data):
                out += event.data
            elif isinstance(event, h11.EndOfMessage):
                return bytes(out), True
    return bytes(out), False


def ours(pieces: list[bytes]) -> tuple[bytes, bool]:
    decoder = ChunkedDecoder()
    out = b"".join(decoder.feed(piece) for piece in pieces)
    return out, decoder.done


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def encode(payloads: list[bytes], exts: list[bytes], blanks: list[bytes], upper: bool) -> bytes:
    body = b""
    for i, payload in enumerate(payloads):
        size = b"%X" % len(payload) if upper else b"%x" % len(payload)
        body += size + exts[i % len(exts)] + blanks[i % len(blanks)] + b"\r\n" + payload + b"\r\n"
    return body + b"0\r\n\r\n"


payloads = st.lists(st.binary(min_size=1, max_size=300), max_size=12)
extensions = st.lists(
    st.sampled_from([b"", b";a=b", b';name="quoted value"', b";x", b";a=1;b=2"]), min_size=1
)
blanks = st.lists(st.sampled_from([b"", b" ", b"\t", b"  "]), min_size=1)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=20)


@given(payloads, extensions, blanks, st.booleans(), cuts)
def test_valid_bodies_decode_like_h11_however_they_are_split(
    chunks: list[bytes], exts: list[bytes], blank: list[bytes], upper: bool, at: list[int]
) -> None:
    body = encode(chunks, exts, blank, upper)
    pieces = split(body, at)
    assert ours(pieces) == (b"".join(chunks), True)
    assert h11_body(pieces) == (b"".join(chunks), True)


# Cut at least 3 bytes short: the last chunk's "0\r\n" is not read whole. (Ours ends
# there; h11 goes on to read trailers, which a stream that is closed next never needs.)
@given(payloads, cuts, st.integers(min_value=0, max_value=10_000))
def test_a_body_cut_short_gives_what_h11_gives_and_is_not_done(
    chunks: list[bytes], at: list[int], keep: int
) -> None:
    body = encode(chunks, [b""], [b""], False)
    cut = body[: keep % (len(body) - 2)]
    pieces = split(cut, at)
    mine = ours(pieces)
    assert mine == h11_body(pieces)
    assert not mine[1]


@pytest.mark.parametrize(
    "header",
    [b"zz", b"0x10", b"+1", b"-1", b" 1", b"1_0", b"", b"1 ;a", b"1\x00", b"1" * 21, b"1\na"],
)
def test_headers_h11_refuses_are_refused_wherever_the_read_ends(header: bytes) -> None:
    body = header + b"\r\nabc"
    with pytest.raises(h11.RemoteProtocolError):
        h11_body([body])
    for cut in range(1, len(body) + 1):  # the last: all in one read
        decoder = ChunkedDecoder()
        with pytest.raises(ChunkError):
            decoder.feed(body[:cut])
            decoder.feed(body[cut:])


@pytest.mark.parametrize("footer", [b"xx", b"\rx", b"\n\r", b"ab\r\n"])
def test_data_not_followed_by_crlf_is_refused(footer: bytes) -> None:
    body = b"3\r\nabc" + footer + b"0\r\n\r\n"
    with pytest.raises(h11.RemoteProtocolError):
        h11_body([body])
    for cut in range(1, len(body) + 1):
        decoder = ChunkedDecoder()
        with pytest.raises(ChunkError, match="CRLF"):
            decoder.feed(body[:cut])
            decoder.feed(body[cut:])


def h11_until_error(pieces: list[bytes]) -> bytes:
    """The payload h11 hands over before it refuses the body."""
    conn = h11_reading_a_body()
    out = bytearray()
    with pytest.raises(h11.RemoteProtocolError):
        for piece in pieces:
            conn.receive_data(piece)
            while (event := conn.next_event()) is not h11.NEED_DATA:
                assert isinstance(event, h11.Data)
                out += event.data
    return bytes(out)


def ours_until_error(pieces: list[bytes]) -> bytes:
    decoder = ChunkedDecoder()
    out = b""
    with pytest.raises(ChunkError):
        for piece in pieces:
            try:
                out += decoder.feed(piece)
            except ChunkError as err:
                out += err.payload
                raise
    assert decoder.feed(b"5\r\nlater\r\n") == b""  # nothing after the error is data
    return out


bad_tails = st.sampled_from([b"zz\r\n", b"3\r\nabcXY", b"0x1\r\n", b"1\na\r\n", b"-1\r\n"])


@given(payloads, bad_tails, cuts)
def test_what_precedes_a_framing_error_is_handed_over_as_h11_does(
    chunks: list[bytes], tail: bytes, at: list[int]
) -> None:
    body = encode(chunks, [b""], [b""], False)[: -len(b"0\r\n\r\n")] + tail
    pieces = split(body, at)
    assert ours_until_error(pieces) == h11_until_error(pieces)


def test_a_header_line_that_never_ends_is_refused_before_it_grows() -> None:
    decoder = ChunkedDecoder()
    decoder.feed(b"1;" + b"x" * (MAX_HEADER_LINE - 2))  # at the limit: still waiting
    with pytest.raises(ChunkError, match="over"):
        decoder.feed(b"yy")


def test_a_header_at_the_limit_is_accepted() -> None:
    header = b"3;" + b"x" * (MAX_HEADER_LINE - 2)
    assert ours([header + b"\r\nabc\r\n0\r\n\r\n"]) == (b"abc", True)


def test_a_large_chunk_is_handed_over_as_it_arrives_not_held_whole() -> None:
    decoder = ChunkedDecoder()
    size = 1 << 20
    assert decoder.feed(b"%x\r\n" % size + b"a" * 1000) == b"a" * 1000
    assert decoder.feed(b"b" * (size - 1000)) == b"b" * (size - 1000)
    assert decoder.feed(b"\r\n0\r\n\r\n") == b""
    assert decoder.done


def test_nothing_after_the_last_chunk_is_data() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"2\r\nhi\r\n0\r\nX-Trailer: 1\r\n\r\n3\r\nbad\r\n") == b"hi"
    assert decoder.done
    assert decoder.feed(b"4\r\nmore\r\n") == b""
