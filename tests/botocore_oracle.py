"""botocore 1.44.5 as a test oracle: what it sends for an operation and how it parses a response.

A ``before-send`` hook captures the prepared request and answers with a canned response, so no
network is touched and botocore's parser runs on exactly the bytes our parser sees.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@functools.cache
def client(service: str, region: str = "us-east-1", endpoint_url: str | None = None) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"total_max_attempts": 1}),
    )


def call(
    service: str,
    method: str,
    params: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    body: bytes = b"{}",
    endpoint_url: str | None = None,
) -> tuple[Any, Any]:
    """Run ``method`` through botocore: (captured prepared request, parsed result or ClientError)."""
    c = client(service, endpoint_url=endpoint_url)
    captured: list[Any] = []

    def hook(request: Any, **_: Any) -> AWSResponse:
        captured.append(request)
        return AWSResponse(request.url, status, headers or {}, _Raw(body))

    c.meta.events.register("before-send", hook)
    try:
        try:
            result: Any = getattr(c, method)(**params)
        except ClientError as exc:
            result = exc
    finally:
        c.meta.events.unregister("before-send", hook)
    return captured[0], result


def body_bytes(request: Any) -> bytes:
    body = request.body
    if body is None:
        return b""
    return body if isinstance(body, bytes) else body.encode()
