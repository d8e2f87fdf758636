"""The one host normaliser, and every workspace URL derived from it.

Whatever a user pastes (a trailing slash, no scheme, upper case, a path such as
``/serving-endpoints`` or ``/ai-gateway/mlflow/v1``, a ``:443`` port) becomes the canonical origin
``https://<lower-case host>[:port]``. Every path that talks to a workspace (OAuth, discovery,
inference) builds its URLs from that origin and nothing else, so the token URL is always
``{origin}/oidc/v1/token`` whatever base path was configured (field failures F7, F8).

Plain ``http://`` is refused unless the host is a loopback address (``127.0.0.1``, ``[::1]``,
``localhost``: the workspace emulator) or the caller opts in explicitly.

Public API::

    normalize_host(value, *, allow_insecure=False) -> str     # "https://host" or raises HostError
    workspace_urls(host) -> WorkspaceUrls                     # OIDC and API URLs from the origin
    is_loopback_host(hostname) -> bool
    cloud_of(host) -> "aws" | "azure" | "gcp"
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal, TypeAlias
from urllib.parse import urlsplit

from lakecode.errors import HostError
from lakecode.redact import redact

__all__ = [
    "LOOPBACK_HOSTS",
    "Cloud",
    "WorkspaceUrls",
    "cloud_of",
    "is_loopback_host",
    "normalize_host",
    "workspace_urls",
]

Cloud: TypeAlias = Literal["aws", "azure", "gcp"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
"""Host names for which plain http is accepted (the local workspace emulator)."""

_DEFAULT_PORTS = {"https": 443, "http": 80}
# A DNS name: labels of letters, digits and hyphens (underscores appear in some internal names).
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
                       r"(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$")
_AZURE_SUFFIXES = (".azuredatabricks.net", ".databricks.azure.us", ".databricks.azure.cn")
_GCP_SUFFIXES = (".gcp.databricks.com",)


def is_loopback_host(hostname: str) -> bool:
    """Whether ``hostname`` (no brackets, no port) names this machine's loopback interface."""
    name = hostname.strip("[]").lower()
    if name in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _refuse(value: str, reason: str) -> HostError:
    shown = redact(value.strip())
    shown = shown if len(shown) <= 200 else shown[:200] + "…"
    return HostError(f"{shown!r} is not a workspace URL: {reason}.")


def _split(value: str) -> tuple[str, str]:
    """``(scheme, netloc)`` of a pasted value. A value with no scheme is taken as https, except a
    loopback host (``localhost:8765``): that is the local emulator, which speaks plain http."""
    text = value.strip()
    lowered = text.lower()
    if lowered.startswith("//"):
        text = "https:" + text
    elif "://" not in lowered:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if "://" not in lowered and parts.hostname is not None and is_loopback_host(parts.hostname):
        scheme = "http"
    return scheme, parts.netloc


def normalize_host(value: str, *, allow_insecure: bool = False) -> str:
    """The canonical workspace origin for anything a user may paste as a host.

    Steps: trim; add ``https://`` when there is no scheme (``http://`` for a loopback host such as
    ``localhost:8765``, the local emulator); lower-case the host; drop a default
    port (``:443`` for https); drop any path, query and fragment.

    Args:
        value: the host as typed, e.g. ``"ADB-123.7.AzureDatabricks.net/serving-endpoints/"``.
        allow_insecure: accept ``http://`` for a non-loopback host (an explicit opt-in).

    Returns:
        ``scheme://host[:port]`` with no trailing slash, e.g. ``"https://adb-123.7.azuredatabricks.net"``.

    Raises:
        HostError: the value is empty, has credentials in it, uses a scheme other than http(s),
            uses ``http://`` for a non-loopback host without the opt-in, has tabs, newlines or
            control characters inside it, or has an invalid host name or port.
    """
    if not value or not value.strip():
        raise HostError("No workspace host is configured.")
    # urlsplit silently deletes tabs and newlines (WHATWG), so "x.com\n.evil.com" would become
    # the host "x.com.evil.com": refuse such values rather than send credentials elsewhere.
    if not value.strip().isprintable():
        raise _refuse(value, "it contains control characters (a newline, a tab, ...)")
    try:
        scheme, netloc = _split(value)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        raise _refuse(value, str(exc)) from None
    if "@" in netloc:
        raise HostError("The workspace URL must not contain a user name or password.")
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        hostname = parts.hostname or ""
        port = parts.port
    except ValueError as exc:
        raise _refuse(value, str(exc)) from None
    if scheme not in _DEFAULT_PORTS:
        raise _refuse(value, f"the scheme must be https, not {scheme}")
    if not hostname:
        raise _refuse(value, "there is no host name in it")
    hostname = hostname.lower()
    try:
        is_ipv6 = ipaddress.ip_address(hostname).version == 6
    except ValueError:
        is_ipv6 = False
        if not _HOSTNAME.match(hostname):
            raise _refuse(value, "the host name has characters a host name cannot have") from None
    hostname = hostname.rstrip(".")
    if scheme == "http" and not allow_insecure and not is_loopback_host(hostname):
        raise HostError(
            f"Refusing plain http:// for {hostname}: credentials would travel unencrypted.",
            hint=f"Use https://{hostname}",
        )
    host_part = f"[{hostname}]" if is_ipv6 else hostname
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host_part = f"{host_part}:{port}"
    return f"{scheme}://{host_part}"


@dataclass(frozen=True, slots=True)
class WorkspaceUrls:
    """URLs derived from a workspace origin; never from a configured base path.

    Attributes:
        origin: the normalised workspace origin.
    """

    origin: str

    @property
    def oidc_discovery(self) -> str:
        """The workspace OIDC discovery document."""
        return f"{self.origin}/oidc/.well-known/oauth-authorization-server"

    @property
    def authorize(self) -> str:
        """The default authorization endpoint (when discovery is unavailable)."""
        return f"{self.origin}/oidc/v1/authorize"

    @property
    def token(self) -> str:
        """The default token endpoint (when discovery is unavailable)."""
        return f"{self.origin}/oidc/v1/token"

    @property
    def host_metadata(self) -> str:
        """The host metadata document (``/.well-known/databricks-config``)."""
        return f"{self.origin}/.well-known/databricks-config"

    @property
    def serving_endpoints(self) -> str:
        """The OpenAI-compatible base URL on ``/serving-endpoints``."""
        return f"{self.origin}/serving-endpoints"

    @property
    def chat_completions(self) -> str:
        """Chat completions on ``/serving-endpoints``."""
        return f"{self.origin}/serving-endpoints/chat/completions"

    @property
    def scim_me(self) -> str:
        """The identity of the caller."""
        return f"{self.origin}/api/2.0/preview/scim/v2/Me"


def workspace_urls(host: str, *, allow_insecure: bool = False) -> WorkspaceUrls:
    """The URLs of a workspace, from any form of its host (normalised first)."""
    return WorkspaceUrls(normalize_host(host, allow_insecure=allow_insecure))


def cloud_of(host: str) -> Cloud:
    """The cloud a workspace runs on, inferred from its host suffix (unknown hosts: ``aws``)."""
    hostname = urlsplit(normalize_host(host, allow_insecure=True)).hostname or ""
    if hostname.endswith(_AZURE_SUFFIXES):
        return "azure"
    if hostname.endswith(_GCP_SUFFIXES):
        return "gcp"
    return "aws"
