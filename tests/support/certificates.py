"""Test certificates, made by openssl (as dev/kafka/kafka.sh makes the broker's)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def self_signed(directory: Path, common_name: str = "127.0.0.1") -> tuple[Path, Path]:
    """(key, certificate) of a one-day self-signed certificate for 127.0.0.1."""
    key, cert = directory / f"{common_name}.key", directory / f"{common_name}.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key)),
            *("-out", str(cert), "-days", "1", "-subj", f"/CN={common_name}"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        capture_output=True,
        check=True,
    )
    return key, cert
