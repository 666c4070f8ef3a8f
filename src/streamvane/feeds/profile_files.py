"""Every file and secret a profile names, checked before the profile is used: a missing client
certificate, CA file or secret file is a configuration fault to report at validation and at
start-up, not a delivery failure to retry.

The checks read the file system (and, with ``check_secrets``, the environment) but never print
a secret: a problem names the setting and the reference (``env:WFM_TOKEN``), not the value.
"""

from __future__ import annotations

import os
from pathlib import Path

from streamvane.feeds.endpoint import BasicAuth, BearerAuth, OAuth2ClientCredentials
from streamvane.feeds.profile import FeedProfile
from streamvane.feeds.secrets import SecretRef, SecretUnavailableError


def referenced_files(profile: FeedProfile) -> list[tuple[str, Path]]:
    """(setting, path) of every file the profile's endpoint names: TLS files and file secrets."""
    endpoint = profile.endpoint
    if endpoint is None:
        return []
    tls = endpoint.tls
    files = [
        (name, path)
        for name, path in (
            ("tls.ca_file", tls.ca_file),
            ("tls.client_cert", tls.client_cert),
            ("tls.client_key", tls.client_key),
        )
        if path is not None
    ]
    files += [(name, ref.file) for name, ref in secret_refs(profile) if ref.file is not None]
    return files


def secret_refs(profile: FeedProfile) -> list[tuple[str, SecretRef]]:
    endpoint = profile.endpoint
    if endpoint is None:
        return []
    auth = endpoint.auth
    refs: list[tuple[str, SecretRef]] = []
    if isinstance(auth, BasicAuth):
        refs.append(("auth.password", auth.password))
    elif isinstance(auth, BearerAuth):
        refs.append(("auth.token", auth.token))
    elif isinstance(auth, OAuth2ClientCredentials):
        refs.append(("auth.client_secret", auth.client_secret))
    refs += [(f"headers.{name}", ref) for name, ref in endpoint.secret_headers.items()]
    return refs


def profile_problems(profile: FeedProfile, check_secrets: bool = False) -> list[str]:
    """One line per file that is missing or unreadable, and (``check_secrets``) per secret
    reference that does not resolve."""
    problems = []
    for name, path in referenced_files(profile):
        if not path.is_file():
            problems.append(f"endpoint.{name}: {path}: no such file")
        elif not os.access(path, os.R_OK):
            problems.append(f"endpoint.{name}: {path}: not readable")
    if check_secrets:
        for name, ref in secret_refs(profile):
            if ref.env is None:
                continue  # files are checked above
            try:
                ref.resolve()
            except SecretUnavailableError as exc:
                problems.append(f"endpoint.{name}: {exc}")
    return problems
