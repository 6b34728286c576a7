"""``HttpCodec`` (adapters/h11.py) against a plain h11 client, and the request bytes it writes.

The codec reads a plain response that arrives in one read without h11 and hands every other shape
to h11; here both are held to what a plain ``h11.Connection(CLIENT)`` makes of the same bytes,
split at every point, and the findings of a security review are pinned.
"""

from __future__ import annotations

from typing import Any

import h11
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sansio_ssooidc.adapters.h11 import HttpCodec

import sansio_ssooidc as oidc

MAX = 64
REQUEST = oidc.HttpRequest(method="POST", url="http://h/token", body=b"{}")


def codec_outcome(chunks: list[bytes]) -> tuple[Any, ...]:
    codec = HttpCodec(max_body_size=MAX)
    codec.send(REQUEST)
    try:
        for chunk in [*chunks, b""]:
            response = codec.receive(chunk)
            if response is not None:
                fields = (response.status, response.headers, response.body, response.reason)
                return ("response", *fields, codec.reusable)
    except oidc.RemoteProtocolError:
        return ("malformed",)
    except ConnectionResetError:
        return ("reset",)
    raise AssertionError("no outcome")  # pragma: no cover


def h11_outcome(chunks: list[bytes]) -> tuple[Any, ...]:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/token", headers=[("Host", "h"), ("Content-Length", "2")]))
    conn.send(h11.Data(data=b"{}"))
    conn.send(h11.EndOfMessage())
    head: Any = None
    body = bytearray()
    received = 0
    try:
        for chunk in [*chunks, b""]:
            if not chunk and not received:
                return ("reset",)
            received += len(chunk)
            conn.receive_data(chunk)
            while True:
                event = conn.next_event()
                if type(event) is h11.Response:
                    head = event
                elif type(event) is h11.Data:
                    body += event.data
                    if len(body) > MAX:
                        return ("malformed",)
                elif type(event) is h11.EndOfMessage:
                    if not 100 <= head.status_code <= 599:
                        return ("malformed",)
                    reusable = (
                        conn.our_state is h11.DONE
                        and conn.their_state is h11.DONE
                        and not conn.trailing_data[0]
                    )
                    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers)
                    return (
                        "response",
                        head.status_code,
                        headers,
                        bytes(body),
                        head.reason.decode("latin-1"),
                        reusable,
                    )
                elif event is h11.NEED_DATA:
                    if not chunk:
                        return ("reset",)
                    break
                else:
                    return ("reset",)
    except h11.RemoteProtocolError:
        return ("malformed",)
    raise AssertionError("no outcome")  # pragma: no cover


STATUS_LINES = [
    b"HTTP/1.1 200 OK",
    b"HTTP/1.1 400 Bad Request",
    b"HTTP/1.1 200",
    b"HTTP/1.1 200 ",
    b"HTTP/1.0 200 OK",
    b"HTTP/1.1 204 No Content",
    b"HTTP/1.1 999 Odd",
    b"HTTP/1.1 2000 OK",
    b"HTTP/1.1 200 \xe9t\xe9",
    b"HTTP/1.1  200 OK",
]
HEADERS = [
    b"Content-Type: application/json",
    b"Content-Length: 2",
    b"Content-Length: 02",
    b"Content-Length: " + b"0" * 21 + b"2",
    b"Content-Length: " + b"0" * 4300 + b"2",
    b"Content-Length: 1, 1",
    b"Content-Length: +2",
    b"Transfer-Encoding: chunked",
    b"Connection: close",
    b"Connection: keep-alive, close",
    b"X-Amzn-ErrorType: AuthorizationPendingException",
    b"X Bad: name",
    b"X-Tab:\tvalue\t",
    b"X-Fold: a\r\n b",
    b"X-Ctl: a\x01b",
    b"X-Empty:",
    b"x-lower: v",
]
BODIES = [b"", b"{}", b"{}x", b"2\r\n{}\r\n0\r\n\r\n", b"{}HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE"]


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    status = draw(st.sampled_from(STATUS_LINES))
    headers = draw(st.lists(st.sampled_from(HEADERS), max_size=4))
    body = draw(st.sampled_from(BODIES))
    separator = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    return separator.join([status, *headers]) + separator + separator + body


@settings(max_examples=400, deadline=None)
@given(raw=responses(), split=st.integers(min_value=0, max_value=10_000))
def test_the_codec_reads_what_h11_reads(raw: bytes, split: int) -> None:
    cut = split % (len(raw) + 1)
    for chunks in ([raw], [raw[:cut], raw[cut:]] if 0 < cut < len(raw) else [raw]):
        expected = h11_outcome(chunks)
        event(expected[0])
        assert codec_outcome(chunks) == expected, chunks


@pytest.mark.parametrize("digits", [21, 4301])
def test_an_absurdly_long_content_length_is_malformed_in_one_read_or_two(digits: int) -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: " + b"0" * (digits - 1) + b"2\r\n\r\n{}"
    assert codec_outcome([raw]) == ("malformed",)  # was: accepted (21) or ValueError (4301)
    assert codec_outcome([raw[:20], raw[20:]]) == ("malformed",)


def test_bytes_after_a_response_never_become_the_next_answer() -> None:
    codec = HttpCodec()
    codec.send(REQUEST)
    forged = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE"
    response = codec.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}" + forged)
    assert response is not None
    assert response.body == b"{}"
    assert not codec.reusable  # the transport closes this connection ...
    with pytest.raises(h11.LocalProtocolError):
        codec.send(REQUEST)  # ... and it cannot carry another request


def request_bytes(**changes: Any) -> bytes:
    fields: dict[str, Any] = {"method": "POST", "url": "http://h/token", "headers": (), "body": b"{}"}
    fields.update(changes)
    return HttpCodec().send(oidc.HttpRequest(**fields))


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://user:secret@OIDC.example.com/token", "oidc.example.com"),
        ("https://oidc.example.com:443/token", "oidc.example.com"),
        ("http://127.0.0.1:8080/token", "127.0.0.1:8080"),
        ("http://[::1]:80/token", "[::1]"),
        ("https://[::1]:8443/token", "[::1]:8443"),
    ],
)
def test_the_host_header_is_what_sigv4_signs_and_never_the_user_info(url: str, host: str) -> None:
    head = request_bytes(url=url).split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[1] == b"Host: " + host.encode()
    assert b"secret" not in b"\r\n".join(head)


def test_a_callers_host_header_is_not_sent_twice() -> None:
    head = request_bytes(headers=(("Host", "h"), ("Content-Type", "application/json")))
    assert head.count(b"Host:") == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"headers": (("X Bad", "v"),)}, "not a token"),
        ({"headers": (("X:Y", "v"),)}, "not a token"),
        ({"headers": (("X-Ctl", "a\x0bb"),)}, "control character"),
        ({"headers": (("X-Del", "a\x7fb"),)}, "control character"),
        ({"url": "http://h/a b"}, "space"),
        ({"url": "http://h/\u00e9"}, "non-ASCII"),
        (
            {"headers": (("Content-Length", "0"),), "body": b"GET /smuggled HTTP/1.1\r\n\r\n"},
            "does not match",
        ),
        ({"headers": (("Transfer-Encoding", "chunked"),)}, "Transfer-Encoding"),
    ],
)
def test_requests_a_server_could_read_two_ways_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(oidc.ParameterError, match=message):
        request_bytes(**changes)


def test_every_connection_header_counts() -> None:
    codec = HttpCodec()
    codec.send(
        oidc.HttpRequest(
            method="POST", url="http://h/t", headers=(("Connection", "close"), ("Connection", "keep-alive"))
        )
    )
    assert codec.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") is not None
    assert not codec.reusable  # "close" was asked for, whatever followed
