"""Test certificates, made by openssl (as dev/kafka/kafka.sh makes the broker's)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Pki:
    """A test CA and two certificates it signed: a server's (for 127.0.0.1) and a client's."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def pki(directory: Path) -> Pki:
    """Made by openssl, as dev/kafka/kafka.sh makes the broker's."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], capture_output=True, check=True)

    d = directory
    run(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "ca.key")),
        *("-out", str(d / "ca.pem"), "-days", "1", "-subj", "/CN=Streamvane test CA"),
    )
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        key, csr, ext = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.ext"
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(csr),
            "-subj",
            f"/CN={name}",
        )
        ext.write_text(extension + "\n")
        run(
            *("x509", "-req", "-in", str(csr), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key")),
            *("-CAcreateserial", "-out", str(d / f"{name}.pem"), "-days", "1", "-extfile", str(ext)),
        )
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem", d / "client.key")
