"""The SSL context of one endpoint: verification on by default, optional extra CA, optional mTLS.

A CA file or client certificate that is missing or unreadable is a :class:`TlsConfigError`
naming the file: a configuration fault, never retried.
"""

from __future__ import annotations

import ssl

from streamvane.errors import ConfigError
from streamvane.feeds.endpoint import TlsSpec


class TlsConfigError(ConfigError):
    """A TLS file of a profile cannot be used."""


VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def ssl_context(spec: TlsSpec, https: bool) -> ssl.SSLContext | None:
    """The context of an https endpoint (None for http): TLS ``spec.min_version`` at least,
    verification on unless switched off, the extra CA and the client certificate."""
    if not https:
        return None
    try:
        context = ssl.create_default_context(cafile=str(spec.ca_file) if spec.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(f"tls.ca_file {spec.ca_file}: {_reason(exc)}") from None
    context.minimum_version = VERSIONS[spec.min_version]
    if not spec.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if spec.client_cert is not None:
        try:
            context.load_cert_chain(str(spec.client_cert), str(spec.client_key) if spec.client_key else None)
        except (OSError, ssl.SSLError) as exc:
            key = f" / tls.client_key {spec.client_key}" if spec.client_key else ""
            raise TlsConfigError(f"tls.client_cert {spec.client_cert}{key}: {_reason(exc)}") from None
    return context


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
