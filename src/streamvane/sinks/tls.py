"""The SSL context of one endpoint: verification on by default, optional extra CA, optional mTLS."""

from __future__ import annotations

import ssl

from streamvane.feeds.endpoint import TlsSpec


def ssl_context(spec: TlsSpec, https: bool) -> ssl.SSLContext | bool | None:
    """None: aiohttp's default (verify); False: verification off (explicitly configured)."""
    if not https:
        return None
    if not spec.verify:
        return False
    if spec.ca_file is None and spec.client_cert is None:
        return None
    context = ssl.create_default_context(cafile=str(spec.ca_file) if spec.ca_file else None)
    if spec.client_cert is not None:
        context.load_cert_chain(str(spec.client_cert), str(spec.client_key) if spec.client_key else None)
    return context
