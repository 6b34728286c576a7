"""The endpoints ``ssooidc`` talks to, against botocore's for the same config and environment:
``use_fips_endpoint`` / ``use_dualstack_endpoint`` from the profile or the environment."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from sansio_ssooidc.adapters._cli_config import Context, resolve_target

import sansio_ssooidc as oidc

CONFIG = """\
[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = ReadOnlyAccess
{profile_lines}
[sso-session corp]
sso_start_url = https://example.awsapps.com/start
sso_region = {region}
"""

VARIABLES = ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_PROFILE")


class _Sent(Exception):
    pass


#: A call of each service, sent nowhere: where botocore sends it is the oracle (not
#: ``client.meta.endpoint_url``, which for GovCloud FIPS names a host requests do not go to).
CALLS = {
    "sso-oidc": ("create_token", {"clientId": "c", "clientSecret": "s", "grantType": "refresh_token"}),
    "sso": ("logout", {"accessToken": "t"}),
}


def botocore_endpoint(config_file: Path, service: str, region: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The base URL a botocore client for profile ``dev`` sends ``service``'s requests to, or the
    type of the error it raises instead."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config_file.parent / "no-credentials"))
    sent: list[str] = []

    def before_send(request: Any, **_: Any) -> None:
        sent.append(request.url)
        raise _Sent

    try:
        client = botocore.session.Session(profile="dev").create_client(
            service, region_name=region, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
        )
        client.meta.events.register("before-send", before_send)
        method, params = CALLS[service]
        getattr(client, method)(**params)
    except _Sent:
        return sent[0].rsplit("/", 1)[0]  # the base URL, without /token or /logout
    except Exception as exc:  # the error botocore gives, as the outcome
        return type(exc)
    raise AssertionError("botocore sent nothing")


CASES = [
    *itertools.product([None, "true", "false", "TRUE", ""], [None, "true", "false"], [None], [None]),
    *itertools.product([None], [None], [None, "true"], [None, "true", "True"]),
    ("true", None, "true", None),
    (None, "true", None, "true"),
]


@pytest.mark.parametrize("region", ["us-east-1", "us-gov-west-1"])
@pytest.mark.parametrize(("fips_env", "fips_config", "dual_env", "dual_config"), CASES)
def test_fips_and_dualstack_settings_give_botocores_endpoints(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    region: str,
    fips_env: str | None,
    fips_config: str | None,
    dual_env: str | None,
    dual_config: str | None,
) -> None:
    lines = [f"use_fips_endpoint = {fips_config}" if fips_config is not None else ""]
    lines.append(f"use_dualstack_endpoint = {dual_config}" if dual_config is not None else "")
    config_file = tmp_path / "config"
    config_file.write_text(CONFIG.format(profile_lines="\n".join(lines), region=region))
    environ = {"HOME": str(tmp_path), "AWS_CONFIG_FILE": str(config_file)}
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in (("AWS_USE_FIPS_ENDPOINT", fips_env), ("AWS_USE_DUALSTACK_ENDPOINT", dual_env)):
        if value is not None:
            environ[name] = value
            monkeypatch.setenv(name, value)
    target = resolve_target(Context(environ=environ), profile="dev")
    assert target.oidc_endpoint == botocore_endpoint(config_file, "sso-oidc", region, monkeypatch)
    assert target.portal_endpoint == botocore_endpoint(config_file, "sso", region, monkeypatch)


def test_fips_with_a_custom_endpoint_is_an_error_as_in_botocore(tmp_path: Path) -> None:
    config_file = tmp_path / "config"
    config_file.write_text(CONFIG.format(profile_lines="use_fips_endpoint = true", region="us-east-1"))
    environ = {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(config_file),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    with pytest.raises(oidc.SSOOIDCError, match=r"(?i)fips"):
        resolve_target(Context(environ=environ), profile="dev")
