"""Endpoint resolution, with botocore 1.44.5 as the oracle (no network).

The oracle is what a botocore client does when it is created: ``validate_region_name``, the
service's endpoint rule set evaluated by ``EndpointProvider`` over the shipped ``partitions.json``,
and the ``is_valid_endpoint_url`` check ``EndpointCreator`` applies to the result. The rule set is
loaded once and evaluated directly, so the full table runs in well under a second.
"""

from __future__ import annotations

import re
from typing import Any

import botocore.exceptions
import botocore.loaders
import botocore.session
import botocore.utils
import pytest
from botocore.config import Config
from botocore.configprovider import ConfiguredEndpointProvider
from botocore.endpoint_provider import EndpointProvider
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio_ssooidc._endpoints import _PARTITIONS, _Partition, _regional_url, resolve_endpoint
from sansio_ssooidc._errors import ParameterError, ParameterTypeError

SERVICES = ("sso-oidc", "sso")
_LOADER = botocore.loaders.create_loader()
_PARTITIONS_JSON: dict[str, Any] = _LOADER.load_data("partitions")
_PROVIDERS = {
    service: EndpointProvider(
        ruleset_data=_LOADER.load_service_model(service, "endpoint-rule-set-1"),
        partition_data=_PARTITIONS_JSON,
    )
    for service in SERVICES
}

#: One made-up, well-formed region per partition (matched by its regex, not listed explicitly),
#: plus one that matches no partition (botocore then uses the first partition, aws).
MADE_UP_REGIONS = {
    "aws": "us-foo-1",
    "aws-cn": "cn-foo-1",
    "aws-eusc": "eusc-de-foo-1",
    "aws-iso": "us-iso-foo-1",
    "aws-iso-b": "us-isob-foo-1",
    "aws-iso-e": "eu-isoe-foo-1",
    "aws-iso-f": "us-isof-foo-1",
    "aws-us-gov": "us-gov-foo-1",
    None: "xx-foo-1",
}
#: Odd but valid host labels: upper case is not matched by any regex, "us-gov-1" is matched by aws.
ODD_REGIONS = ("US-EAST-1", "CN-NORTH-1", "us-gov-1", "a", "x1", "us-east-10")

ALL_REGIONS = tuple(
    sorted({r for p in _PARTITIONS_JSON["partitions"] for r in p["regions"]})
    + sorted(MADE_UP_REGIONS.values())
    + list(ODD_REGIONS)
)


def botocore_endpoint(service: str, region: str, fips: bool, dualstack: bool) -> str | Exception:
    """botocore's endpoint for a client of ``service`` in ``region``, or the exception it raises."""
    try:
        botocore.utils.validate_region_name(region)
        url: str = (
            _PROVIDERS[service].resolve_endpoint(Region=region, UseFIPS=fips, UseDualStack=dualstack).url
        )
        if not botocore.utils.is_valid_endpoint_url(url):
            raise ValueError(f"Invalid endpoint: {url}")
    except (botocore.exceptions.BotoCoreError, ValueError) as exc:
        return exc
    return url


def ours(service: str, region: str, fips: bool, dualstack: bool) -> str | Exception:
    try:
        return resolve_endpoint(region, service=service, fips=fips, dualstack=dualstack)
    except ParameterError as exc:
        return exc


def assert_agrees(service: str, region: str, fips: bool, dualstack: bool) -> None:
    expected = botocore_endpoint(service, region, fips, dualstack)
    got = ours(service, region, fips, dualstack)
    case = (service, region, fips, dualstack)
    if isinstance(expected, Exception):
        assert isinstance(got, ParameterError), (case, expected, got)
        if isinstance(expected, botocore.exceptions.EndpointResolutionError):
            # A rule-set error: we give botocore's reason.
            assert str(got).startswith(str(expected)), (case, expected, got)
    else:
        assert got == expected, case


# --- the static table is botocore's -------------------------------------------------------------


def test_partition_table_matches_partitions_json() -> None:
    shipped = _PARTITIONS_JSON["partitions"]
    assert [p.name for p in _PARTITIONS] == [p["id"] for p in shipped]
    for ours_, theirs in zip(_PARTITIONS, shipped, strict=True):
        outputs = theirs["outputs"]
        assert ours_.region_regex.pattern == theirs["regionRegex"]
        assert ours_.regions == frozenset(theirs["regions"])
        assert ours_.dns_suffix == outputs["dnsSuffix"]
        assert ours_.dual_stack_dns_suffix == outputs["dualStackDnsSuffix"]
        assert ours_.supports_fips is outputs["supportsFIPS"]
        assert ours_.supports_dual_stack is outputs["supportsDualStack"]


def test_made_up_regions_cover_every_partition() -> None:
    assert set(MADE_UP_REGIONS) - {None} == {p.name for p in _PARTITIONS}
    for name, region in MADE_UP_REGIONS.items():
        matching = [p.name for p in _PARTITIONS if p.region_regex.match(region) or region in p.regions]
        assert matching[:1] == ([] if name is None else [name]), region
        assert all(region not in p.regions for p in _PARTITIONS)


# --- the full table against botocore ----------------------------------------------------------


def test_full_table_matches_botocore() -> None:
    compared = 0
    for region in ALL_REGIONS:
        for service in SERVICES:
            for fips in (False, True):
                for dualstack in (False, True):
                    assert_agrees(service, region, fips, dualstack)
                    compared += 1
    # Every region of every partition (55 in botocore 1.44.5), 9 made up, 6 odd; x 2 x 2 x 2.
    assert compared == len(ALL_REGIONS) * 8 >= 70 * 8


class _Sent(Exception):
    """Raised from botocore's before-send hook to stop a request once its URL is known."""


_SAMPLE_CALLS = {
    "sso-oidc": ("create_token", {"clientId": "c", "clientSecret": "s", "grantType": "refresh_token"}),
    "sso": ("logout", {"accessToken": "t"}),
}


@pytest.mark.parametrize(
    ("service", "region", "fips", "dualstack"),
    [
        ("sso-oidc", "us-east-1", False, False),
        ("sso-oidc", "us-gov-west-1", True, False),
        ("sso", "us-gov-east-1", True, False),
        ("sso-oidc", "cn-north-1", False, True),
        ("sso", "us-isob-east-1", True, True),
        ("sso", "eusc-de-east-1", False, False),
    ],
)
def test_oracle_is_where_a_botocore_client_sends(
    monkeypatch: pytest.MonkeyPatch, service: str, region: str, fips: bool, dualstack: bool
) -> None:
    """The direct rule-set evaluation above is where a real client sends requests (on a sample).

    Not ``client.meta.endpoint_url``: that comes from the legacy endpoints.json resolver and says
    ``oidc-fips.us-gov-west-1.amazonaws.com`` for GovCloud FIPS, while requests go to the rule
    set's ``oidc.us-gov-west-1.amazonaws.com``.
    """
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_SSO", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    client = botocore.session.Session().create_client(
        service,
        region_name=region,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack, retries={"max_attempts": 0}),
    )
    sent: list[str] = []

    def before_send(request: Any, **_: Any) -> None:
        sent.append(request.url)
        raise _Sent

    client.meta.events.register("before-send", before_send)
    method, params = _SAMPLE_CALLS[service]
    with pytest.raises(_Sent):
        getattr(client, method)(**params)
    base = resolve_endpoint(region, service=service, fips=fips, dualstack=dualstack)
    assert base == botocore_endpoint(service, region, fips, dualstack)
    assert sent[0].startswith(base + "/")


# --- WIRE.md, "Endpoints" -----------------------------------------------------------------------

WIRE_TABLE = {
    "us-east-1": (
        "oidc.us-east-1.amazonaws.com",
        "oidc-fips.us-east-1.amazonaws.com",
        "oidc.us-east-1.api.aws",
        "oidc-fips.us-east-1.api.aws",
    ),
    "cn-north-1": (
        "oidc.cn-north-1.amazonaws.com.cn",
        "oidc-fips.cn-north-1.amazonaws.com.cn",
        "oidc.cn-north-1.api.amazonwebservices.com.cn",
        "oidc-fips.cn-north-1.api.amazonwebservices.com.cn",
    ),
    "us-gov-west-1": (
        "oidc.us-gov-west-1.amazonaws.com",
        "oidc.us-gov-west-1.amazonaws.com",  # no "-fips" in GovCloud
        "oidc.us-gov-west-1.api.aws",
        "oidc-fips.us-gov-west-1.api.aws",
    ),
    "us-isob-east-1": (
        "oidc.us-isob-east-1.sc2s.sgov.gov",
        "oidc-fips.us-isob-east-1.sc2s.sgov.gov",
        "oidc.us-isob-east-1.api.aws.scloud",
        "oidc-fips.us-isob-east-1.api.aws.scloud",
    ),
}
_VARIANTS = ((False, False), (True, False), (False, True), (True, True))


@pytest.mark.parametrize("region", sorted(WIRE_TABLE))
def test_wire_table(region: str) -> None:
    for (fips, dualstack), host in zip(_VARIANTS, WIRE_TABLE[region], strict=True):
        assert resolve_endpoint(region, fips=fips, dualstack=dualstack) == f"https://{host}"
        portal = "https://" + host.replace("oidc", "portal.sso", 1)
        assert resolve_endpoint(region, service="sso", fips=fips, dualstack=dualstack) == portal


def test_wire_rows_without_variants() -> None:
    assert resolve_endpoint("us-iso-east-1") == "https://oidc.us-iso-east-1.c2s.ic.gov"
    assert resolve_endpoint("xx-foo-1") == "https://oidc.xx-foo-1.amazonaws.com"
    assert resolve_endpoint("us-east-1", service="sso") == "https://portal.sso.us-east-1.amazonaws.com"
    assert resolve_endpoint("us-east-1", service="sso", fips=True) == (
        "https://portal.sso-fips.us-east-1.amazonaws.com"
    )
    assert resolve_endpoint("us-gov-east-1", service="sso", fips=True) == (
        "https://portal.sso.us-gov-east-1.amazonaws.com"
    )


# --- overrides ----------------------------------------------------------------------------------

EXPLICIT = "http://explicit.example"
SERVICE_ENV = "http://service-env.example"
GLOBAL_ENV = "http://global-env.example"
CONFIG = "http://config.example"
REGIONAL = "https://oidc.us-east-1.amazonaws.com"
ALL_ENV = {"AWS_ENDPOINT_URL_SSO_OIDC": SERVICE_ENV, "AWS_ENDPOINT_URL": GLOBAL_ENV}

OVERRIDE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("nothing", {}, REGIONAL),
    ("explicit beats all", {"endpoint_url": EXPLICIT, "environ": ALL_ENV, "config": CONFIG}, EXPLICIT),
    ("service env beats the rest", {"environ": ALL_ENV, "config": CONFIG}, SERVICE_ENV),
    ("global env beats config", {"environ": {"AWS_ENDPOINT_URL": GLOBAL_ENV}, "config": CONFIG}, GLOBAL_ENV),
    ("config alone", {"config": CONFIG}, CONFIG),
    ("config with environ None", {"environ": None, "config": CONFIG}, CONFIG),
    ("global env alone", {"environ": {"AWS_ENDPOINT_URL": GLOBAL_ENV}}, GLOBAL_ENV),
    ("service env alone", {"environ": {"AWS_ENDPOINT_URL_SSO_OIDC": SERVICE_ENV}}, SERVICE_ENV),
    (
        "empty service env falls through",
        {"environ": {"AWS_ENDPOINT_URL_SSO_OIDC": "", "AWS_ENDPOINT_URL": GLOBAL_ENV}},
        GLOBAL_ENV,
    ),
    ("empty global env falls through", {"environ": {"AWS_ENDPOINT_URL": ""}, "config": CONFIG}, CONFIG),
    ("empty everything", {"environ": {"AWS_ENDPOINT_URL_SSO_OIDC": "", "AWS_ENDPOINT_URL": ""}}, REGIONAL),
    ("empty config", {"config": ""}, REGIONAL),
    (
        "ignore=true",
        {"environ": {**ALL_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "config": CONFIG},
        REGIONAL,
    ),
    (
        "ignore=TRUE",
        {"environ": {**ALL_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE"}, "config": CONFIG},
        REGIONAL,
    ),
    (
        "ignore=True, config only",
        {"environ": {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "True"}, "config": CONFIG},
        REGIONAL,
    ),
    (
        "ignore keeps explicit",
        {"endpoint_url": EXPLICIT, "environ": {**ALL_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}},
        EXPLICIT,
    ),
    ("ignore=false", {"environ": {**ALL_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"}}, SERVICE_ENV),
    (
        "ignore=1 is not true",
        {"environ": {**ALL_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "1"}},
        SERVICE_ENV,
    ),
    ("ignore empty", {"environ": {**ALL_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": ""}}, SERVICE_ENV),
    ("portal variable is not ours", {"environ": {"AWS_ENDPOINT_URL_SSO": SERVICE_ENV}}, REGIONAL),
    ("path prefix kept", {"endpoint_url": "http://h/p/"}, "http://h/p"),
    (
        "deep path prefix kept",
        {"environ": {"AWS_ENDPOINT_URL": "https://h:8443/a/b//"}},
        "https://h:8443/a/b",
    ),
    ("bare host", {"endpoint_url": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"),
    ("trailing slash dropped", {"config": "http://127.0.0.1:8080/"}, "http://127.0.0.1:8080"),
    ("ipv6", {"endpoint_url": "http://[::1]:8080/"}, "http://[::1]:8080"),
    ("scheme case kept", {"endpoint_url": "HTTPS://Example.COM/"}, "HTTPS://Example.COM"),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"), [c[1:] for c in OVERRIDE_CASES], ids=[c[0] for c in OVERRIDE_CASES]
)
@pytest.mark.parametrize("region", ["us-east-1", None])
def test_override_precedence(kwargs: dict[str, Any], expected: str, region: str | None) -> None:
    kwargs = dict(kwargs)
    config = kwargs.pop("config", None)
    if region is None and expected == REGIONAL:
        with pytest.raises(ParameterError, match="Missing Region"):
            resolve_endpoint(region, config_endpoint_url=config, **kwargs)
    else:
        assert resolve_endpoint(region, config_endpoint_url=config, **kwargs) == expected


PORTAL_REGIONAL = "https://portal.sso.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"AWS_ENDPOINT_URL_SSO": SERVICE_ENV, "AWS_ENDPOINT_URL": GLOBAL_ENV}, SERVICE_ENV),
        ({"AWS_ENDPOINT_URL_SSO_OIDC": SERVICE_ENV}, PORTAL_REGIONAL),
        ({"AWS_ENDPOINT_URL_SSO_OIDC": SERVICE_ENV, "AWS_ENDPOINT_URL": GLOBAL_ENV}, GLOBAL_ENV),
        (
            {"AWS_ENDPOINT_URL_SSO": SERVICE_ENV, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
            PORTAL_REGIONAL,
        ),
    ],
)
def test_portal_override_variables(environ: dict[str, str], expected: str) -> None:
    assert resolve_endpoint("us-east-1", service="sso", environ=environ) == expected


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(
    "sources",
    [
        ("service_env", "global_env", "config"),
        ("global_env", "config"),
        ("service_env", "config"),
        ("service_env",),
        ("global_env",),
        ("config",),
        (),
    ],
)
def test_configured_precedence_matches_botocore(service: str, sources: tuple[str, ...]) -> None:
    """Cross-check the configured sources against botocore's ConfiguredEndpointProvider."""
    env_name = {"sso-oidc": "AWS_ENDPOINT_URL_SSO_OIDC", "sso": "AWS_ENDPOINT_URL_SSO"}[service]
    config_key = service.replace("-", "_")
    environ = {}
    if "service_env" in sources:
        environ[env_name] = SERVICE_ENV
    if "global_env" in sources:
        environ["AWS_ENDPOINT_URL"] = GLOBAL_ENV
    config = CONFIG if "config" in sources else None
    full_config = {"services": {"dev": {config_key: {"endpoint_url": config}} if config else {"s3": {}}}}
    provider = ConfiguredEndpointProvider(
        full_config=full_config, scoped_config={"services": "dev"}, client_name=service, environ=environ
    )
    expected = provider.provide()
    got = resolve_endpoint("us-east-1", service=service, environ=environ, config_endpoint_url=config)
    if expected is None:
        assert got.startswith("https://")
    else:
        assert got == expected


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "region", ["us east", "../x", "123", "-x", "x-", "a" * 64, "us_east_1", "us-east-1\n", "us.east.1", "é"]
)
def test_invalid_region(region: str) -> None:
    with pytest.raises(ParameterError, match="is not a valid region name") as info:
        resolve_endpoint(region)
    assert repr(region) in str(info.value)
    assert isinstance(botocore_endpoint("sso-oidc", region, False, False), Exception)


def test_invalid_region_is_refused_even_with_an_override() -> None:
    with pytest.raises(ParameterError, match="not a valid region name"):
        resolve_endpoint("us east", endpoint_url=EXPLICIT)


def test_longest_valid_region() -> None:
    region = "a" * 63
    assert resolve_endpoint(region) == f"https://oidc.{region}.amazonaws.com"


@pytest.mark.parametrize("region", [None, ""])
def test_missing_region(region: str | None) -> None:
    with pytest.raises(ParameterError, match=r"Missing Region: pass region= \(or set sso_region"):
        resolve_endpoint(region)
    with pytest.raises(ParameterError, match="Missing Region"):
        resolve_endpoint(region, service="sso", environ={"AWS_ENDPOINT_URL_SSO_OIDC": EXPLICIT})


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://x", "expected a URL such as"),
        ("http://", "it has no host"),
        ("http://:8080/", "it has no host"),
        ("https:///path", "it has no host"),
        ("localhost:8080", "expected a URL such as"),
        ("/just/a/path", "expected a URL such as"),
        ("example.com", "expected a URL such as"),
        ("http://h:99999", "Port out of range"),
        ("http://h:abc", "Port could not be cast"),
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://h/ p", "whitespace or a control character"),
        ("http://h\n", "whitespace or a control character"),
        ("http://h/?q=1", "query or a fragment"),
        ("http://h/?", "query or a fragment"),
        ("http://h#f", "query or a fragment"),
        ("", "expected a URL such as"),
    ],
)
def test_bad_explicit_url(url: str, reason: str) -> None:
    with pytest.raises(ParameterError) as info:
        resolve_endpoint("us-east-1", endpoint_url=url)
    message = str(info.value)
    assert message.startswith(f"endpoint_url={url!r} is not an http(s) URL"), message
    assert reason in message


@pytest.mark.parametrize(
    ("source", "kwargs"),
    [
        ("AWS_ENDPOINT_URL_SSO_OIDC", {"environ": {"AWS_ENDPOINT_URL_SSO_OIDC": "ftp://x"}}),
        ("AWS_ENDPOINT_URL", {"environ": {"AWS_ENDPOINT_URL": "ftp://x"}}),
        ("config_endpoint_url", {"config_endpoint_url": "ftp://x"}),
        ("AWS_ENDPOINT_URL_SSO", {"service": "sso", "environ": {"AWS_ENDPOINT_URL_SSO": "ftp://x"}}),
    ],
)
def test_bad_configured_url_names_its_source(source: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ParameterError, match=re.escape(f"{source}='ftp://x' is not an http(s) URL")):
        resolve_endpoint("us-east-1", **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"endpoint_url": EXPLICIT},
        {"environ": {"AWS_ENDPOINT_URL_SSO_OIDC": EXPLICIT}},
        {"environ": {"AWS_ENDPOINT_URL": EXPLICIT}},
        {"config_endpoint_url": EXPLICIT},
    ],
)
@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"fips": True}, "Invalid Configuration: FIPS and custom endpoint are not supported"),
        (
            {"fips": True, "dualstack": True},
            "Invalid Configuration: FIPS and custom endpoint are not supported",
        ),
        ({"dualstack": True}, "Invalid Configuration: Dualstack and custom endpoint are not supported"),
    ],
)
def test_variant_with_custom_endpoint(kwargs: dict[str, Any], flags: dict[str, Any], reason: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(reason)):
        resolve_endpoint("us-east-1", **kwargs, **flags)
    # The rule set says the same (a botocore client silently drops the flags instead).
    params = {"Region": "us-east-1", "UseFIPS": False, "UseDualStack": False, "Endpoint": EXPLICIT}
    params.update({"UseFIPS": flags.get("fips", False), "UseDualStack": flags.get("dualstack", False)})
    with pytest.raises(botocore.exceptions.EndpointResolutionError, match=re.escape(reason)):
        _PROVIDERS["sso-oidc"].resolve_endpoint(**params)


def test_ignored_override_allows_variants() -> None:
    environ = {"AWS_ENDPOINT_URL": EXPLICIT, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert (
        resolve_endpoint("us-east-1", fips=True, environ=environ)
        == "https://oidc-fips.us-east-1.amazonaws.com"
    )


@pytest.mark.parametrize("service", ["sts", "sso_oidc", "SSO-OIDC", "oidc", "", "portal"])
def test_unknown_service(service: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(f"service={service!r} is not supported")):
        resolve_endpoint("us-east-1", service=service)


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((1,), {}, "region"),
        ((b"us-east-1",), {}, "region"),
        (("us-east-1",), {"endpoint_url": b"http://h"}, "endpoint_url"),
        (("us-east-1",), {"config_endpoint_url": 1}, "config_endpoint_url"),
        (("us-east-1",), {"service": None}, "service"),
        (("us-east-1",), {"fips": "yes"}, "fips"),
        (("us-east-1",), {"fips": 1}, "fips"),
        (("us-east-1",), {"dualstack": None}, "dualstack"),
        (("us-east-1",), {"environ": [("AWS_ENDPOINT_URL", "http://h")]}, "environ"),
        (("us-east-1",), {"environ": {"AWS_ENDPOINT_URL": 1}}, "AWS_ENDPOINT_URL"),
        (
            ("us-east-1",),
            {"environ": {"AWS_ENDPOINT_URL_SSO_OIDC": b"http://h"}},
            "AWS_ENDPOINT_URL_SSO_OIDC",
        ),
        (
            ("us-east-1",),
            {"environ": {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": True}},
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        ),
    ],
)
def test_wrong_types(args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ParameterTypeError, match=f"^{name} must be"):
        resolve_endpoint(*args, **kwargs)


def test_errors_are_library_errors() -> None:
    with pytest.raises(ValueError, match="not a valid region"):
        resolve_endpoint("us east")
    with pytest.raises(TypeError, match="region must be"):
        resolve_endpoint(1)  # type: ignore[arg-type]


NO_SUPPORT = _Partition(
    name="no-variants",
    region_regex=re.compile(r"^zz\-\w+\-\d+$"),
    regions=frozenset(),
    dns_suffix="example",
    dual_stack_dns_suffix="dual.example",
    supports_fips=False,
    supports_dual_stack=False,
)
FIPS_ONLY = _Partition(
    name="fips-only",
    region_regex=NO_SUPPORT.region_regex,
    regions=frozenset(),
    dns_suffix="example",
    dual_stack_dns_suffix="dual.example",
    supports_fips=True,
    supports_dual_stack=False,
)


@pytest.mark.parametrize(
    ("partition", "fips", "dualstack", "result"),
    [
        (NO_SUPPORT, False, False, "https://oidc.zz-a-1.example"),
        (NO_SUPPORT, True, False, "FIPS is enabled but this partition does not support FIPS"),
        (NO_SUPPORT, False, True, "DualStack is enabled but this partition does not support DualStack"),
        (
            NO_SUPPORT,
            True,
            True,
            "FIPS and DualStack are enabled, but this partition does not support one or both",
        ),
        (FIPS_ONLY, True, False, "https://oidc-fips.zz-a-1.example"),
        (
            FIPS_ONLY,
            True,
            True,
            "FIPS and DualStack are enabled, but this partition does not support one or both",
        ),
    ],
)
def test_partition_without_variants(partition: _Partition, fips: bool, dualstack: bool, result: str) -> None:
    """No shipped partition lacks FIPS or dual-stack today; the rule set's errors are still kept."""
    if result.startswith("https://"):
        assert _regional_url(partition, "zz-a-1", "oidc", "oidc-fips", fips, dualstack) == result
    else:
        with pytest.raises(ParameterError, match=re.escape(result)) as info:
            _regional_url(partition, "zz-a-1", "oidc", "oidc-fips", fips, dualstack)
        assert f"partition {partition.name!r}" in str(info.value)


def test_partition_without_variants_matches_the_rule_set() -> None:
    """The same reasons come out of botocore when partitions.json says a partition lacks support."""
    data = {
        "version": _PARTITIONS_JSON["version"],
        "partitions": [
            {
                "id": "no-variants",
                "regionRegex": "^zz\\-\\w+\\-\\d+$",
                "regions": {},
                "outputs": {
                    "name": "no-variants",
                    "dnsSuffix": "example",
                    "dualStackDnsSuffix": "dual.example",
                    "supportsFIPS": False,
                    "supportsDualStack": False,
                    "implicitGlobalRegion": "zz-a-1",
                },
            }
        ],
    }
    provider = EndpointProvider(
        ruleset_data=_LOADER.load_service_model("sso-oidc", "endpoint-rule-set-1"), partition_data=data
    )
    for fips, dualstack in _VARIANTS:
        try:
            expected = provider.resolve_endpoint(Region="zz-a-1", UseFIPS=fips, UseDualStack=dualstack).url
        except botocore.exceptions.EndpointResolutionError as exc:
            expected = str(exc)
        try:
            got = _regional_url(NO_SUPPORT, "zz-a-1", "oidc", "oidc-fips", fips, dualstack)
        except ParameterError as exc:
            got = str(exc)
        assert got.startswith(expected)


# --- property tests -----------------------------------------------------------------------------

_flags = {"fips": st.booleans(), "dualstack": st.booleans(), "service": st.sampled_from(SERVICES)}


@settings(database=None, deadline=None, max_examples=200)
@given(region=st.text(max_size=70), **_flags)
def test_any_text_region(region: str, fips: bool, dualstack: bool, service: str) -> None:
    try:
        url = resolve_endpoint(region, service=service, fips=fips, dualstack=dualstack)
    except ParameterError:
        pass
    else:
        assert isinstance(url, str)
        assert url.startswith("https://")
        assert not url.endswith("/")
    assert_agrees(service, region, fips, dualstack)


@settings(database=None, deadline=None, max_examples=100)
@given(region=st.from_regex(r"[a-z]{2}-[a-z]+-[0-9]", fullmatch=True), **_flags)
def test_region_shaped_text_matches_botocore(region: str, fips: bool, dualstack: bool, service: str) -> None:
    assert_agrees(service, region, fips, dualstack)


@settings(database=None, deadline=None, max_examples=100)
@given(
    region=st.from_regex(
        r"(us|eu|ap|cn|us-gov|us-iso|us-isob|eu-isoe|us-isof|eusc-de|eusc-fr|[a-zA-Z]{1,4})-[a-zA-Z0-9]{1,8}-[0-9]{1,3}",
        fullmatch=True,
    ),
    **_flags,
)
def test_partition_shaped_text_matches_botocore(
    region: str, fips: bool, dualstack: bool, service: str
) -> None:
    assert_agrees(service, region, fips, dualstack)
