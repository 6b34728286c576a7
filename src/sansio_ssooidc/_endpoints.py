"""Endpoint resolution for ``sso-oidc`` and the SSO portal (``sso``), without I/O.

This reproduces, as a small static table, what botocore 1.44.5 computes from its shipped data:

- ``botocore/data/partitions.json``: which partition a region belongs to (explicit region list or
  ``regionRegex``, partitions tried in file order, the ``aws`` partition when none matches), and each
  partition's DNS suffixes and FIPS / dual-stack support;
- ``botocore/data/sso-oidc/2019-06-10/endpoint-rule-set-1.json.gz`` and the ``sso`` rule set, which are
  the same tree with host prefix ``oidc`` / ``portal.sso``: ``https://{prefix}.{Region}.{dnsSuffix}``,
  ``{prefix}-fips`` for FIPS, ``dualStackDnsSuffix`` for dual-stack, and one special case (FIPS in
  ``aws-us-gov`` keeps the plain host name);
- botocore's client-side checks: ``validate_region_name`` (a region is a host label) and the
  configured-endpoint lookup order of ``ConfiguredEndpointProvider``.

Two deliberate choices: like botocore, ``AWS_ENDPOINT_URL`` is consulted *before* the ``[services X]``
config value; and FIPS or dual-stack with a custom endpoint is an error, as the rule set says (a
botocore client instead silently drops the two flags when it is given an endpoint URL).

Nothing here reads the environment or a file: the environment is passed in as a mapping and the
``[services X]`` config value is passed in already extracted. ``tests/test_endpoints.py`` compares
every region botocore knows, in every partition, with botocore's own resolver.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ._errors import ParameterError, ParameterTypeError

__all__ = ["resolve_endpoint"]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Partition:
    """One entry of botocore's ``partitions.json`` (the fields the endpoint rules use)."""

    name: str
    region_regex: re.Pattern[str]
    regions: frozenset[str]
    dns_suffix: str
    dual_stack_dns_suffix: str
    supports_fips: bool = True
    supports_dual_stack: bool = True


# botocore 1.44.5 data/partitions.json, in file order (the first match wins; see
# botocore.endpoint_provider.RuleSetStandardLibrary.aws_partition). The regexes are copied verbatim.
_PARTITIONS: tuple[_Partition, ...] = (
    _Partition(
        name="aws",
        region_regex=re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$"),
        regions=frozenset(
            [
                "af-south-1",
                "ap-east-1",
                "ap-east-2",
                "ap-northeast-1",
                "ap-northeast-2",
                "ap-northeast-3",
                "ap-south-1",
                "ap-south-2",
                "ap-southeast-1",
                "ap-southeast-2",
                "ap-southeast-3",
                "ap-southeast-4",
                "ap-southeast-5",
                "ap-southeast-6",
                "ap-southeast-7",
                "aws-global",
                "ca-central-1",
                "ca-west-1",
                "eu-central-1",
                "eu-central-2",
                "eu-north-1",
                "eu-south-1",
                "eu-south-2",
                "eu-west-1",
                "eu-west-2",
                "eu-west-3",
                "il-central-1",
                "me-central-1",
                "me-south-1",
                "me-west-1",
                "mx-central-1",
                "sa-east-1",
                "sa-west-1",
                "us-east-1",
                "us-east-2",
                "us-west-1",
                "us-west-2",
            ]
        ),
        dns_suffix="amazonaws.com",
        dual_stack_dns_suffix="api.aws",
    ),
    _Partition(
        name="aws-cn",
        region_regex=re.compile(r"^cn\-\w+\-\d+$"),
        regions=frozenset(("aws-cn-global", "cn-north-1", "cn-northwest-1")),
        dns_suffix="amazonaws.com.cn",
        dual_stack_dns_suffix="api.amazonwebservices.com.cn",
    ),
    _Partition(
        name="aws-eusc",
        region_regex=re.compile(r"^eusc\-(de)\-\w+\-\d+$"),
        regions=frozenset(("eusc-de-east-1",)),
        dns_suffix="amazonaws.eu",
        dual_stack_dns_suffix="api.amazonwebservices.eu",
    ),
    _Partition(
        name="aws-iso",
        region_regex=re.compile(r"^us\-iso\-\w+\-\d+$"),
        regions=frozenset(("aws-iso-global", "us-iso-east-1", "us-iso-west-1")),
        dns_suffix="c2s.ic.gov",
        dual_stack_dns_suffix="api.aws.ic.gov",
    ),
    _Partition(
        name="aws-iso-b",
        region_regex=re.compile(r"^us\-isob\-\w+\-\d+$"),
        regions=frozenset(("aws-iso-b-global", "us-isob-east-1", "us-isob-west-1")),
        dns_suffix="sc2s.sgov.gov",
        dual_stack_dns_suffix="api.aws.scloud",
    ),
    _Partition(
        name="aws-iso-e",
        region_regex=re.compile(r"^eu\-isoe\-\w+\-\d+$"),
        regions=frozenset(("aws-iso-e-global", "eu-isoe-west-1")),
        dns_suffix="cloud.adc-e.uk",
        dual_stack_dns_suffix="api.cloud-aws.adc-e.uk",
    ),
    _Partition(
        name="aws-iso-f",
        region_regex=re.compile(r"^us\-isof\-\w+\-\d+$"),
        regions=frozenset(("aws-iso-f-global", "us-isof-east-1", "us-isof-south-1")),
        dns_suffix="csp.hci.ic.gov",
        dual_stack_dns_suffix="api.aws.hci.ic.gov",
    ),
    _Partition(
        name="aws-us-gov",
        region_regex=re.compile(r"^us\-gov\-\w+\-\d+$"),
        regions=frozenset(("aws-us-gov-global", "us-gov-east-1", "us-gov-west-1")),
        dns_suffix="amazonaws.com",
        dual_stack_dns_suffix="api.aws",
    ),
)

#: service -> (host prefix, FIPS host prefix), from the two endpoint rule sets.
_HOST_PREFIXES: dict[str, tuple[str, str]] = {
    "sso-oidc": ("oidc", "oidc-fips"),
    "sso": ("portal.sso", "portal.sso-fips"),
}

#: service -> its service-specific environment variable ("AWS_ENDPOINT_URL_" + service id, as botocore).
_SERVICE_ENV_VARS: dict[str, str] = {
    "sso-oidc": "AWS_ENDPOINT_URL_SSO_OIDC",
    "sso": "AWS_ENDPOINT_URL_SSO",
}

# botocore.utils.validate_region_name: r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{,63}(?<!-)$" (a host label,
# not all digits). Used with fullmatch so a trailing newline is refused; the empty string is
# handled earlier as "no region".
_REGION_RE = re.compile(r"(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)")

# Whitespace and control characters are never valid in an endpoint URL (botocore refuses \t \r \n,
# which urlsplit would otherwise silently drop).
_UNSAFE_URL_RE = re.compile(r"[\x00-\x20\x7f]")


def _check_url(source: str, url: str) -> str:
    """Return ``url`` without trailing slashes if it is an absolute http(s) URL with a host."""
    problem = f"{source}={url!r} is not an http(s) URL"
    if _UNSAFE_URL_RE.search(url):
        raise ParameterError(f"{problem}: it contains whitespace or a control character")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - validates the port (raises ValueError when out of range)
    except ValueError as exc:
        raise ParameterError(f"{problem}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ParameterError(f"{problem}: expected a URL such as 'https://host' or 'http://127.0.0.1:8080'")
    if not parts.hostname:
        raise ParameterError(f"{problem}: it has no host")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise ParameterError(f"{problem}: a base URL cannot have a query or a fragment")
    return url.rstrip("/")


def _partition_for(region: str) -> _Partition:
    # botocore RuleSetStandardLibrary.is_partition_match / aws_partition:
    #   "return region in partition['regions'] or matches_regex" ... "return the default partition if
    #   no matches were found" (partitions[0], i.e. aws).
    for partition in _PARTITIONS:
        if region in partition.regions or partition.region_regex.match(region):
            return partition
    return _PARTITIONS[0]


def _regional_url(
    partition: _Partition, region: str, prefix: str, fips_prefix: str, fips: bool, dualstack: bool
) -> str:
    """The rule set's regional branch for one partition (the rules quoted are sso-oidc's)."""
    if fips and dualstack:
        if partition.supports_fips and partition.supports_dual_stack:
            # "url": "https://oidc-fips.{Region}.{PartitionResult#dualStackDnsSuffix}"
            return f"https://{fips_prefix}.{region}.{partition.dual_stack_dns_suffix}"
        raise ParameterError(
            f"FIPS and DualStack are enabled, but this partition does not support one or both "
            f"(region {region!r} is in partition {partition.name!r})"
        )
    if fips:
        if not partition.supports_fips:
            raise ParameterError(
                f"FIPS is enabled but this partition does not support FIPS "
                f"(region {region!r} is in partition {partition.name!r})"
            )
        if partition.name == "aws-us-gov":
            # {"fn": "stringEquals", "argv": [{"fn": "getAttr", "argv": [{"ref": "PartitionResult"}, "name"]},
            #  "aws-us-gov"]} -> "url": "https://oidc.{Region}.amazonaws.com"  (no "-fips" in GovCloud)
            return f"https://{prefix}.{region}.amazonaws.com"
        # "url": "https://oidc-fips.{Region}.{PartitionResult#dnsSuffix}"
        return f"https://{fips_prefix}.{region}.{partition.dns_suffix}"
    if dualstack:
        if not partition.supports_dual_stack:
            raise ParameterError(
                f"DualStack is enabled but this partition does not support DualStack "
                f"(region {region!r} is in partition {partition.name!r})"
            )
        # "url": "https://oidc.{Region}.{PartitionResult#dualStackDnsSuffix}"
        return f"https://{prefix}.{region}.{partition.dual_stack_dns_suffix}"
    # "url": "https://oidc.{Region}.{PartitionResult#dnsSuffix}"
    return f"https://{prefix}.{region}.{partition.dns_suffix}"


def _check_str(name: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise ParameterTypeError(f"{name} must be a str or None, not {type(value).__name__}")


def _configured_override(
    service: str, environ: Mapping[str, str], config_endpoint_url: str | None
) -> tuple[str, str] | None:
    """The first configured endpoint URL as ``(source, url)``, in botocore's lookup order."""
    ignore = environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
    _check_str("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", ignore)
    # botocore.utils.ensure_boolean: "return val.lower() == 'true'"
    if ignore is not None and ignore.lower() == "true":
        return None
    env_var = _SERVICE_ENV_VARS[service]
    # botocore.configprovider.ConfiguredEndpointProvider._ENDPOINT_URL_LOOKUP_ORDER:
    #   ["environment_service", "environment_global", "config_service", "config_global"]
    # and "if endpoint_url:" (an empty value falls through to the next source).
    candidates = (
        (env_var, environ.get(env_var)),
        ("AWS_ENDPOINT_URL", environ.get("AWS_ENDPOINT_URL")),
        ("config_endpoint_url", config_endpoint_url),
    )
    for source, value in candidates:
        _check_str(source, value)
        if value:
            return source, value
    return None


def resolve_endpoint(
    region: str | None,
    *,
    service: str = "sso-oidc",
    fips: bool = False,
    dualstack: bool = False,
    endpoint_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    config_endpoint_url: str | None = None,
) -> str:
    """Return the base URL for ``service`` (``"sso-oidc"`` or the portal, ``"sso"``).

    The result has no trailing slash, e.g. ``"https://oidc.us-east-1.amazonaws.com"``; an override
    is returned as given minus trailing slashes, so a path prefix is kept (``"http://h/p/"`` ->
    ``"http://h/p"``).

    Overrides, highest first (botocore's order): ``endpoint_url``; then, unless
    ``environ["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"]`` is ``"true"`` (any case),
    ``environ["AWS_ENDPOINT_URL_SSO_OIDC"]`` (portal: ``AWS_ENDPOINT_URL_SSO``),
    ``environ["AWS_ENDPOINT_URL"]`` and ``config_endpoint_url`` (the ``endpoint_url`` of the
    ``sso_oidc`` / ``sso`` key of the profile's ``[services X]`` section, extracted by the caller).
    Empty configured values count as unset. An override must be an absolute http(s) URL with a host
    and cannot be combined with ``fips`` or ``dualstack``.

    Without an override ``region`` is required and must be a host label (as botocore checks); the
    URL follows botocore's shipped partitions and endpoint rules.

    Raises :class:`ParameterError` for an invalid value or combination (the message says which
    and why) and :class:`ParameterTypeError` for a value of the wrong type.
    """
    _check_str("region", region)
    _check_str("endpoint_url", endpoint_url)
    _check_str("config_endpoint_url", config_endpoint_url)
    if not isinstance(service, str):
        raise ParameterTypeError(f"service must be a str, not {type(service).__name__}")
    for name, flag in (("fips", fips), ("dualstack", dualstack)):
        if not isinstance(flag, bool):
            raise ParameterTypeError(f"{name} must be a bool, not {type(flag).__name__}")
    if environ is not None and not isinstance(environ, Mapping):
        raise ParameterTypeError(f"environ must be a mapping or None, not {type(environ).__name__}")
    prefixes = _HOST_PREFIXES.get(service)
    if prefixes is None:
        raise ParameterError(f"service={service!r} is not supported: expected 'sso-oidc' or 'sso'")
    if region and not _REGION_RE.fullmatch(region):
        # botocore.exceptions.InvalidRegionError: "Provided region_name '{region_name}' doesn't match a
        # supported format."
        raise ParameterError(
            f"region={region!r} is not a valid region name: expected a host label such as 'us-east-1' "
            f"(letters, digits and '-', at most 63, not all digits, not starting or ending with '-')"
        )

    override: tuple[str, str] | None
    if endpoint_url is not None:
        override = ("endpoint_url", endpoint_url)
    else:
        override = _configured_override(service, {} if environ is None else environ, config_endpoint_url)

    if override is not None:
        source, url = override
        # Rule set, "isSet(Endpoint)" branch: these two errors come before the endpoint itself.
        if fips:
            raise ParameterError(
                f"Invalid Configuration: FIPS and custom endpoint are not supported "
                f"(the endpoint URL comes from {source}; drop fips=True or the custom endpoint)"
            )
        if dualstack:
            raise ParameterError(
                f"Invalid Configuration: Dualstack and custom endpoint are not supported "
                f"(the endpoint URL comes from {source}; drop dualstack=True or the custom endpoint)"
            )
        return _check_url(source, url)

    if not region:
        # Rule set: "error": "Invalid Configuration: Missing Region"
        raise ParameterError(
            "Invalid Configuration: Missing Region: pass region= (or set sso_region in the config) "
            "or give an endpoint URL"
        )
    prefix, fips_prefix = prefixes
    return _regional_url(_partition_for(region), region, prefix, fips_prefix, fips, dualstack)
