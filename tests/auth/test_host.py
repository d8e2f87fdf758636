"""Host normalisation (F7) and URLs derived from the origin only (F8)."""

from __future__ import annotations

import pytest

from lakecode.databricks.host import cloud_of, is_loopback_host, normalize_host, workspace_urls
from lakecode.errors import HostError

AWS = "dbc-a1b2345c-d6e7.cloud.databricks.com"
AZURE = "adb-1234567890123456.7.azuredatabricks.net"
GCP = "1234567890123456.7.gcp.databricks.com"


def _variants(host: str) -> list[str]:
    upper = host.upper().replace("CLOUD.DATABRICKS.COM", "Cloud.Databricks.com")
    return [
        f"https://{host}",
        f"https://{host}/",
        f"https://{host}//",
        host,
        f"{host}/",
        f"  https://{host}  ",
        f"https://{host}/serving-endpoints",
        f"https://{host}/serving-endpoints/",
        f"https://{host}/serving-endpoints/chat/completions",
        f"https://{host}/ai-gateway/mlflow/v1",
        f"https://{host}/ai-gateway/mlflow/v1/",
        f"https://{host}/api/2.0/serving-endpoints?x=1",
        f"https://{host}/login#fragment",
        f"https://{host}:443/",
        f"HTTPS://{upper}",
        f"HTTPS://{upper}/Serving-Endpoints",
        f"{upper}",
        f"//{host}/",
        f"https://{host}./",
    ]


CASES = [(value, f"https://{host}") for host in (AWS, AZURE, GCP) for value in _variants(host)]


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_every_pasted_form_becomes_the_canonical_origin(value: str, expected: str) -> None:
    assert normalize_host(value) == expected


@pytest.mark.parametrize(("value", "expected"), CASES)
def test_urls_come_from_the_origin_only(value: str, expected: str) -> None:
    urls = workspace_urls(value)
    assert urls.token == f"{expected}/oidc/v1/token"
    assert urls.authorize == f"{expected}/oidc/v1/authorize"
    assert urls.oidc_discovery == f"{expected}/oidc/.well-known/oauth-authorization-server"
    assert urls.chat_completions == f"{expected}/serving-endpoints/chat/completions"
    assert "//" not in urls.chat_completions.removeprefix("https://")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("http://127.0.0.1:8765/ai-gateway/mlflow/v1", "http://127.0.0.1:8765"),
        ("http://localhost:9000/serving-endpoints", "http://localhost:9000"),
        ("http://LOCALHOST:9000", "http://localhost:9000"),
        ("http://[::1]:9000/x", "http://[::1]:9000"),
        ("http://127.0.0.1:80/", "http://127.0.0.1"),
        # No scheme on a loopback host: the local emulator, which speaks plain http.
        ("127.0.0.1:8765/serving-endpoints", "http://127.0.0.1:8765"),
        ("LOCALHOST:9000", "http://localhost:9000"),
        ("[::1]:9000", "http://[::1]:9000"),
        ("https://localhost:9443", "https://localhost:9443"),
        ("https://example.com:8443/", "https://example.com:8443"),
        ("https://dbc-x.cloud.databricks.us", "https://dbc-x.cloud.databricks.us"),
        ("https://123.ai-gateway.cloud.databricks.com/mlflow/v1", "https://123.ai-gateway.cloud.databricks.com"),
    ],
)
def test_loopback_and_ports(value: str, expected: str) -> None:
    assert normalize_host(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "No workspace host is configured."),
        ("   ", "No workspace host is configured."),
        (f"http://{AWS}", f"Refusing plain http:// for {AWS}: credentials would travel unencrypted."),
        ("ftp://example.com",
         "'ftp://example.com' is not a workspace URL: the scheme must be https, not ftp."),
        ("https://", "'https://' is not a workspace URL: there is no host name in it."),
        ("https://exa mple.com",
         "'https://exa mple.com' is not a workspace URL: "
         "the host name has characters a host name cannot have."),
        ("https://user:pw@example.com", "The workspace URL must not contain a user name or password."),
    ],
)
def test_refusals_are_host_errors_with_exact_messages(value: str, message: str) -> None:
    with pytest.raises(HostError) as info:
        normalize_host(value)
    assert info.value.message == message


def test_plain_http_needs_an_explicit_opt_in() -> None:
    assert normalize_host(f"http://{AWS}/x", allow_insecure=True) == f"http://{AWS}"
    with pytest.raises(HostError) as info:
        normalize_host(f"http://{AWS}")
    assert info.value.hint == f"Use https://{AWS}"


def test_a_password_in_the_url_is_never_echoed() -> None:
    with pytest.raises(HostError) as info:
        normalize_host("https://token:dapi0123456789abcdef0123456789abcdef@h.com")
    assert "dapi" not in info.value.describe()


@pytest.mark.parametrize(("value", "cloud"), [(AWS, "aws"), (AZURE, "azure"), (GCP, "gcp"),
                                              ("http://127.0.0.1:1", "aws"),
                                              ("adb-1.2.databricks.azure.cn", "azure")])
def test_cloud_from_the_host_suffix(value: str, cloud: str) -> None:
    assert cloud_of(value) == cloud


def test_loopback_detection() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("[::1]") and is_loopback_host("localhost")
    assert is_loopback_host("127.0.0.2")
    assert not is_loopback_host("example.com") and not is_loopback_host("10.0.0.1")
