"""Property tests for every parser (Hypothesis, derandomized, at most 200 examples each): garbage
either parses into the typed value or raises the one documented error, never anything else.

Contracts (``corpus.check_*``): operation responses -> typed result, ServiceError subclass or
RemoteProtocolError; a flow awaiting a response takes any response and ends only with a peer's or a
flow error; ``parse_redirect`` -> Redirect or RedirectError; cache files -> value or CacheFileError;
config -> AwsConfig / SsoSettings or ConfigError; ``DeviceFlow.from_dict`` -> flow or ParameterError;
``HttpCodec.receive`` -> response / None or RemoteProtocolError / ConnectionResetError.
Bugs found here and fixed since keep a regression test at the end.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sansio_ssooidc.adapters.h11 import HttpCodec

import sansio_ssooidc as oidc

from . import corpus

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: For the parametrized families (8 operations, 6 flow stages, 3 cache kinds): fewer each.
FUZZ_FAMILY = settings(FUZZ, max_examples=100)
SAMPLES = corpus.samples()
BODIES = SAMPLES.json_bodies()


def run(check: Callable[..., str], *args: Any) -> str:
    """``check(*args)``, its outcome recorded as a Hypothesis event."""
    outcome = check(*args)
    event(outcome)
    return outcome


# --- strategies --------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(corpus.INTERESTING_JSON)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
KNOWN_KEYS = sorted({key for bodies in BODIES.values() for b in bodies if isinstance(b, dict) for key in b})


@st.composite
def near(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """``value`` with each member kept, dropped, retyped or replaced, recursively; extra members."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            how = draw(st.sampled_from(("keep", "keep", "keep", "near", "drop", "null", "any")))
            if how == "keep":
                out[key] = item
            elif how == "near" and depth < 3:
                out[key] = draw(near(item, depth + 1))
            elif how == "null":
                out[key] = None
            elif how != "drop":
                out[key] = draw(json_values)
        out.update(draw(st.dictionaries(st.sampled_from([*KNOWN_KEYS, "x"]), json_values, max_size=2)))
        return out
    if isinstance(value, list) and value and depth < 3:
        return [draw(near(item, depth + 1)) for item in value[: draw(st.integers(0, len(value)))]]
    if isinstance(value, str):
        return draw(
            st.sampled_from((value, "", value * 2, value[: len(value) // 2], "\ud800", "é"))
            | st.text(max_size=10)
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return draw(st.sampled_from((value, 0, -value, value + 1)) | st.integers() | st.floats())
    return draw(json_values)


ERROR_TYPES = [
    *(f"{name}:http://internal.amazon.com/coral/" for name in oidc.__all__ if name.endswith("Exception")),
    "com.amazonaws.switchboard.portal#UnauthorizedException",
    "ThrottlingException",
    "#",
    ":",
    "",
]
header_names = st.sampled_from(
    ["Content-Type", "x-amzn-ErrorType", "X-AMZN-ERRORTYPE", "x-amzn-RequestId", "Content-Length"]
) | st.text(max_size=10)
header_values = st.sampled_from(ERROR_TYPES) | st.text(alphabet=st.characters(max_codepoint=255), max_size=30)
statuses = st.sampled_from([200, 201, 204, 299, 300, 302, 400, 401, 404, 429, 500, 502, 503]) | st.integers(
    100, 599
)


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


@st.composite
def responses(draw: st.DrawFn, name: str) -> oidc.HttpResponse:
    """A response for operation ``name``: near a real one, arbitrary JSON, truncated or raw bytes."""
    bodies = BODIES.get(name) or BODIES["CreateToken"]
    kind = draw(st.sampled_from(("near", "near", "near", "json", "truncated", "bytes", "error")))
    if kind == "near":
        body = json_bytes(draw(near(draw(st.sampled_from(bodies)))))
    elif kind == "json":
        body = json_bytes(draw(json_values))
    elif kind == "truncated":
        full = json_bytes(draw(st.sampled_from(bodies)))
        body = full[: draw(st.integers(0, len(full)))]
    elif kind == "bytes":
        body = draw(st.binary(max_size=64))
    else:
        body = json_bytes(
            draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        key: json_values | st.sampled_from(ERROR_TYPES)
                        for key in (
                            "error",
                            "error_description",
                            "message",
                            "Message",
                            "code",
                            "__type",
                            "reason",
                        )
                    },
                )
            )
        )
    headers = draw(st.lists(st.tuples(header_names, header_values), max_size=3))
    status = draw(statuses)
    if kind == "near" and draw(st.booleans()):
        status = 200
    return corpus.make_response(status, headers, body)


# --- operation responses -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(corpus.OPERATIONS))
def test_samples_parse(name: str) -> None:
    outcomes = [corpus.check_response(n, r) for n, r in SAMPLES.responses if n == name]
    assert "ok" in outcomes


@pytest.mark.parametrize("name", sorted(corpus.OPERATIONS))
def test_operation_responses(name: str) -> None:
    @FUZZ_FAMILY
    @given(responses(name))
    def check(response: oidc.HttpResponse) -> None:
        run(corpus.check_response, name, response)

    check()


@FUZZ
@given(st.randoms(use_true_random=False), st.sampled_from(SAMPLES.responses))
def test_operation_responses_mutated_bytes(rng: random.Random, sample: tuple[str, oidc.HttpResponse]) -> None:
    name, response = sample
    mutator = corpus.Mutator(rng)
    body = mutator.bytes(response.body, [r.body for _, r in SAMPLES.responses])
    run(corpus.check_response, name, corpus.make_response(response.status, response.headers, body))
    value = mutator.json(json.loads(response.body)) if response.body.startswith(b"{") else None
    if value is not None:
        mutated = corpus.dumps(value, rng)
        run(corpus.check_response, name, corpus.make_response(200, response.headers, mutated))


@pytest.mark.parametrize("stage", corpus.FLOW_STAGES)
def test_flow_takes_any_response(stage: str) -> None:
    name = {"register": "RegisterClient", "start": "StartDeviceAuthorization"}.get(
        stage.split("-")[-1], "CreateToken"
    )

    @FUZZ_FAMILY
    @given(responses(name), st.lists(st.integers(0, 10), max_size=6))
    def check(response: oidc.HttpResponse, answers: list[int]) -> None:
        run(corpus.check_flow_response, stage, response, answers)

    check()


# --- redirects -----------------------------------------------------------------------------

STATE = oidc.make_state(random.Random(3))
redirect_names = st.sampled_from(["state", "code", "error", "error_description", "x", "State", "state "])
redirect_values = st.sampled_from([STATE, STATE + "x", "", "abc", "access_denied"]) | st.text(max_size=12)


@st.composite
def redirect_pairs(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A code and our state (or another), plus a few more parameters, in any order."""
    pairs = [
        ("code", draw(st.sampled_from(["abc", ""]) | st.text(max_size=8))),
        ("state", draw(st.just(STATE) | redirect_values)),
    ]
    pairs += draw(st.lists(st.tuples(redirect_names, redirect_values), max_size=3))
    return draw(st.permutations(pairs))


@FUZZ
@given(redirect_pairs() | st.lists(st.tuples(redirect_names, redirect_values), max_size=6), st.booleans())
def test_parse_redirect_structured(pairs: list[tuple[str, str]], raw: bool) -> None:
    query = "&".join(f"{k}={v}" for k, v in pairs) if raw else urlencode(pairs)
    run(corpus.check_redirect, query, STATE)


@FUZZ
@given(st.text(max_size=200), st.sampled_from([STATE, "s", "é", "\ud800"]) | st.text(min_size=1, max_size=30))
def test_parse_redirect_text(query: str, state: str) -> None:
    run(corpus.check_redirect, query, state)
    run(corpus.check_redirect, f"code=c&state={quote(state, safe='', errors='surrogatepass')}&{query}", state)


@FUZZ
@given(st.randoms(use_true_random=False), st.sampled_from(SAMPLES.redirects))
def test_parse_redirect_mutated(rng: random.Random, sample: tuple[str, str]) -> None:
    query, state = sample
    run(corpus.check_redirect, corpus.Mutator(rng).text(query), state)


def test_parse_redirect_huge_query_is_refused_quickly() -> None:
    with pytest.raises(oidc.MalformedRedirectError, match="exceeds"):
        oidc.parse_redirect("state=x&" * 100_000, expected_state="x")


# --- cache files ---------------------------------------------------------------------------

CACHE_SAMPLES = {
    "token": SAMPLES.tokens,
    "registration": SAMPLES.registrations,
    "role credentials": SAMPLES.role_credentials,
}
times = st.sampled_from(["2027-01-15T09:00:00Z", "2027-01-15T09:00:00UTC", "2027-13-01T00:00:00Z"]) | st.text(
    alphabet="0123456789-:TZ+. ", max_size=30
)


@pytest.mark.parametrize("kind", sorted(CACHE_SAMPLES))
def test_cache_files(kind: str) -> None:
    docs = [json.loads(text) for text in CACHE_SAMPLES[kind]]

    @FUZZ_FAMILY
    @given(st.sampled_from(docs), st.data())
    def check(doc: dict[str, Any], data: st.DataObject) -> None:
        shaped = copy.deepcopy(data.draw(near(doc)))
        if data.draw(st.booleans()) and isinstance(shaped, dict):
            target = shaped.get("Credentials") if isinstance(shaped.get("Credentials"), dict) else shaped
            for key in ("expiresAt", "registrationExpiresAt", "Expiration"):
                if key in target:
                    target[key] = data.draw(times)
        text = json.dumps(shaped)
        if data.draw(st.integers(0, 4)) == 0:
            text = text[: data.draw(st.integers(0, len(text)))]
        run(corpus.check_cache, kind, text)
        run(corpus.check_cache, kind, data.draw(st.text(max_size=40)))

    check()


# --- config files --------------------------------------------------------------------------

section_names = st.sampled_from(
    [
        "default",
        "profile dev",
        'profile "a b"',
        "profile",
        "sso-session s",
        "sso-session",
        "services x",
        "DEFAULT",
    ]
    + ["sso-session s", "profile dev", "default"] * 2
) | st.text(alphabet=st.characters(blacklist_characters="\r\n]"), max_size=12)
config_keys = st.sampled_from(
    ["sso_session", "sso_start_url", "sso_region"] * 3
    + [
        "sso_session",
        "sso_start_url",
        "sso_region",
        "sso_registration_scopes",
        "sso_account_id",
        "sso_role_name",
        "sso_login_method",
        "region",
        "sso-oidc",
    ]
) | st.text(alphabet=st.characters(blacklist_characters="\r\n=:[]"), min_size=1, max_size=10)
config_values = st.sampled_from(
    ["s", "dev", "https://x/start", "us-east-1", "", "a, b,,", '"q"', "s", "s"]
) | st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=20)
settings_lines = st.tuples(config_keys, st.sampled_from([" = ", "=", ": ", " = ", " "]), config_values).map(
    "".join
)
odd_lines = st.one_of(
    config_keys.map(lambda key: f"  {key} = v"),
    st.sampled_from(["", "# c", "; c", "  continued", "[", "=x", "[profile x"]),
    st.text(max_size=20),
)


@st.composite
def config_texts(draw: st.DrawFn) -> str:
    """Sections of settings, and now and then a line that is not one."""
    lines: list[str] = []
    for name in draw(st.lists(section_names, max_size=4, unique=True)):
        lines.append(f"[{name}]")
        lines += draw(st.lists(settings_lines, max_size=5, unique_by=lambda line: line.split("=")[0].strip()))
    for _ in range(draw(st.integers(0, 2))):
        lines.insert(draw(st.integers(0, len(lines))), draw(odd_lines))
    return "\n".join(lines)


@FUZZ
@given(config_texts(), st.lists(st.sampled_from(["s", "dev", "a b", ""]), max_size=2))
def test_config_structured(text: str, names: list[str]) -> None:
    run(corpus.check_config, text, names)


@FUZZ
@given(st.randoms(use_true_random=False), st.sampled_from(SAMPLES.configs))
def test_config_mutated(rng: random.Random, text: str) -> None:
    run(corpus.check_config, corpus.Mutator(rng).text(text, SAMPLES.configs), ["s", "dev"])


@pytest.mark.parametrize("text", SAMPLES.configs)
def test_config_samples_resolve(text: str) -> None:
    assert corpus.check_config(text) == "ok"


# --- saved DeviceFlow states ---------------------------------------------------------------

RESUMABLE = [d for d in SAMPLES.flow_states if d["state"] not in ("done", "failed")]
# Values of JSON types, numbers at the edges and Python values a caller might pass.
odd_values = json_values | st.sampled_from(
    [0.5, -1, 10**30, 2**53, float("nan"), float("inf"), "", "poll", "done", "await_poll", (1,), b"x", {1: 2}]
)


def near_value(value: Any) -> st.SearchStrategy[Any]:
    """Values of the same type as ``value``, near it or at the edges."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.sampled_from([value + 1, value - 1, -value, 0, 1, 2**31, 2**53]) | st.integers()
    if isinstance(value, float):
        return st.sampled_from([value + 1, value - 1, -value, 0.0, value * 1000]) | st.floats()
    if isinstance(value, str):
        return st.sampled_from([value, "", value[:1], value + "x"]) | st.text(max_size=10)
    return odd_values


@st.composite
def mutated_state(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        target = data
        nested = [k for k, v in data.items() if isinstance(v, dict)]
        if nested and draw(st.booleans()):
            target = data[draw(st.sampled_from(nested))]
        keys = sorted(target, key=str)
        how = draw(st.sampled_from(("drop", "set", "set", "add")))
        if how == "drop" and keys:
            del target[draw(st.sampled_from(keys))]
        elif how == "set" and keys:
            key = draw(st.sampled_from(keys))
            target[key] = draw(odd_values | near_value(target[key]))
        else:
            target[draw(st.text(max_size=6) | st.integers())] = draw(odd_values)
    return data


@FUZZ
@given(st.sampled_from(SAMPLES.flow_states).flatmap(mutated_state))
def test_device_flow_from_dict_mutated(data: Any) -> None:
    run(corpus.check_flow_state, data)


@FUZZ
@given(odd_values | st.dictionaries(st.sampled_from(list(SAMPLES.flow_states[-1])), odd_values))
def test_device_flow_from_dict_arbitrary(data: Any) -> None:
    run(corpus.check_flow_state, data)


@FUZZ
@given(
    st.sampled_from(RESUMABLE).flatmap(mutated_state),
    st.sampled_from([corpus.T0, corpus.T0 + 1, corpus.T0 + 599, corpus.T0 + 10**6]),
    st.lists(st.integers(0, 10), max_size=8),
)
def test_restored_device_flow_runs(data: Any, start: float, answers: list[int]) -> None:
    run(corpus.check_flow_state_runs, data, start, answers)


def test_saved_states_round_trip() -> None:
    assert [corpus.check_flow_state(d) for d in RESUMABLE] == ["ok"] * len(RESUMABLE)


# --- the HTTP codec -------------------------------------------------------------------------


@st.composite
def split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@FUZZ
@given(st.binary(max_size=300).flatmap(split))
def test_http_codec_arbitrary_bytes(chunks: list[bytes]) -> None:
    run(corpus.check_codec, chunks)


@FUZZ
@given(st.randoms(use_true_random=False), st.sampled_from(SAMPLES.raw_http), st.data())
def test_http_codec_mutated(rng: random.Random, raw: bytes, data: st.DataObject) -> None:
    mutated = corpus.Mutator(rng).bytes(raw, SAMPLES.raw_http)
    run(corpus.check_codec, data.draw(split(mutated)))


@FUZZ
@given(
    st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"http/1.1"]),
    st.integers(0, 1000) | st.sampled_from([100, 101, 200, 204, 304, 599, 600]),
    st.lists(
        st.tuples(
            st.sampled_from([b"Content-Length", b"Transfer-Encoding", b"Connection", b"X"]),
            st.sampled_from([b"0", b"5", b"-1", b"chunked", b"close", b"1, 2", b""]) | st.binary(max_size=6),
        ),
        max_size=3,
    ),
    st.binary(max_size=40),
    st.data(),
)
def test_http_codec_heads(
    version: bytes, status: int, headers: list[tuple[bytes, bytes]], body: bytes, data: st.DataObject
) -> None:
    head = b"%s %d Reason\r\n" % (version, status) + b"".join(b"%s: %s\r\n" % h for h in headers)
    run(corpus.check_codec, data.draw(split(head + b"\r\n" + body)))


def test_http_codec_samples_parse() -> None:
    assert {corpus.check_codec([raw]) for raw in SAMPLES.raw_http} == {"response"}


def test_http_codec_body_limit() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000
    assert corpus.check_codec([raw]) == "RemoteProtocolError"


# --- bugs found, fixed, pinned -------------------------------------------------------------------


# Found by this fuzzing and fixed meanwhile: an empty required member (deviceCode, accessToken,
# clientId, ...) was accepted, and the flow then raised ParameterError, blaming the caller.
@pytest.mark.parametrize("member", ["clientId", "clientSecret"])
def test_empty_client_id_is_a_protocol_error(member: str) -> None:
    flow, now = corpus.flow_awaiting("pkce-register")
    fields = {"clientId": "c", "clientSecret": "s", "clientSecretExpiresAt": 1900000000, member: ""}
    flow.receive_response(oidc.HttpResponse(status=200, body=json.dumps(fields).encode()), now)
    action = flow.next_action(now)
    assert isinstance(action, oidc.Wait)  # refused as malformed and retried after a backoff


# Found by this fuzzing and fixed meanwhile: _parse.loads leaked StopIteration from json's scan_once
# for an object cut short after ':' or '['.
@pytest.mark.parametrize("body", [b'{"a":', b'{"accessToken":"x","expiresIn":', b'{"a":[', b'{"a":{"b":'])
@pytest.mark.parametrize("status", [200, 400])
def test_truncated_json_is_a_protocol_error(body: bytes, status: int) -> None:
    with pytest.raises(oidc.RemoteProtocolError, match="not JSON"):
        corpus.OPERATIONS["CreateToken"].parse_response(oidc.HttpResponse(status=status, body=body))


# Found by this fuzzing and fixed meanwhile: HttpCodec.receive raised ParameterError from
# HttpResponse for a status of 600..999 (h11 accepts any three digits).
@pytest.mark.parametrize("status", [600, 999])
def test_codec_status_out_of_range(status: int) -> None:
    codec = HttpCodec()
    codec.send(oidc.HttpRequest(method="POST", url="http://h/token"))
    with pytest.raises(oidc.RemoteProtocolError, match="status"):
        codec.receive(b"HTTP/1.1 %d Odd\r\nContent-Length: 0\r\n\r\n" % status)


# Found by this fuzzing and fixed meanwhile: from_dict accepted an interval beyond any float
# (10**400), and the restored flow raised OverflowError.
def test_restored_interval_is_bounded() -> None:
    data = copy.deepcopy(next(d for d in RESUMABLE if d["state"] == "poll"))
    data["interval"] = 10**400
    with pytest.raises(oidc.ParameterError, match="interval"):
        oidc.DeviceFlow.from_dict(data)


# Found by this fuzzing and fixed meanwhile: a clientId with a lone surrogate (JSON \ud800, or the
# bytes ED A0 80 that _parse.loads decodes with surrogatepass) made AuthCodeFlow.next_action raise
# UnicodeEncodeError from urlencode in authorize_url.
@pytest.mark.parametrize(
    "client_id", [b'"\\ud800"', b'"\xed\xa0\x80"'], ids=["json-escape", "utf8-surrogate"]
)
def test_surrogate_client_id_is_a_protocol_error(client_id: bytes) -> None:
    flow, now = corpus.flow_awaiting("pkce-register")
    body = b'{"clientId": %s, "clientSecret": "s", "clientSecretExpiresAt": 1900000000}' % client_id
    flow.receive_response(oidc.HttpResponse(status=200, body=body), now)
    try:
        action = flow.next_action(now)
    except corpus.FLOW_ERRORS:
        return  # the fix: refused as malformed (retried, then given up)
    assert isinstance(action, (oidc.OpenBrowser, oidc.Wait, oidc.Send))


# Found by this fuzzing and fixed meanwhile: a restored not_before at MAX_EPOCH (the year 3000)
# made the flow ask to wait beyond the clock bound of next_action.
def test_restored_wait_stays_within_the_clock_bound() -> None:
    data = copy.deepcopy(next(d for d in RESUMABLE if d["state"] == "start"))
    data["not_before"] = corpus.MAX_EPOCH
    flow = oidc.DeviceFlow.from_dict(data)
    assert corpus.drive_canned(flow, corpus.T0, [4, 4, 4]) in ("running", "RetriesExhaustedError")
