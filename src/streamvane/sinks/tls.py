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


def ssl_context(spec: TlsSpec, https: bool) -> ssl.SSLContext | bool | None:
    """None: aiohttp's default (verify); False: verification off (explicitly configured)."""
    if not https:
        return None
    if not spec.verify:
        return False
    if spec.ca_file is None and spec.client_cert is None:
        return None
    try:
        context = ssl.create_default_context(cafile=str(spec.ca_file) if spec.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(f"tls.ca_file {spec.ca_file}: {_reason(exc)}") from None
    if spec.client_cert is not None:
        try:
            context.load_cert_chain(str(spec.client_cert), str(spec.client_key) if spec.client_key else None)
        except (OSError, ssl.SSLError) as exc:
            key = f" / tls.client_key {spec.client_key}" if spec.client_key else ""
            raise TlsConfigError(f"tls.client_cert {spec.client_cert}{key}: {_reason(exc)}") from None
    return context


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
