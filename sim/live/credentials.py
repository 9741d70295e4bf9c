"""Development credentials for the secured brokers: a CA, certificates and a password file.

Everything here is for a test bed on one machine, never for a plant: the CA key sits next to the
certificates, the default passwords are printed in ``brokers/README.md``. The certificates come
from the ``cryptography`` package, the password file is written in Mosquitto 2's own format, so
neither ``openssl`` nor ``mosquitto_passwd`` is needed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# Mosquitto 2's password hash: PBKDF2-HMAC-SHA512, 101 iterations, 12 random bytes of salt,
# written as ``user:$7$<iterations>$<salt, base64>$<64-byte hash, base64>`` (mosquitto_passwd.c).
MOSQUITTO_HASH_ID = 7
MOSQUITTO_ITERATIONS = 101
_SALT_BYTES = 12
_HASH_BYTES = 64

# The development users of the secured variant, with the rights brokers/secure/acl gives them.
# The edge's bridge logs in to the central broker as `bridge` (brokers/secure/edge.conf).
DEV_USERS: dict[str, str] = {
    "plant": "plant-dev-password",  # machines and `factory5g live`: publish (and read) plant/#
    "app": "app-dev-password",  # SCADA, historians: read plant/#
    "bridge": "bridge-dev-password",  # the edge -> central bridge: publish plant/# on central
    "probe": "probe-dev-password",  # `factory5g probe`: its own topics under factory5g/probe/
}

CERT_FILES = ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key")


# ---------------------------------------------------------------------------------- passwords


def password_line(user: str, password: str, *, salt: bytes | None = None) -> str:
    """One line of a Mosquitto 2 password file (without the newline)."""
    if not user or ":" in user or "\n" in user:
        raise ValueError(f"a user name must be non-empty and contain no ':' or newline: {user!r}")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), salt, MOSQUITTO_ITERATIONS, _HASH_BYTES
    )
    return (
        f"{user}:${MOSQUITTO_HASH_ID}${MOSQUITTO_ITERATIONS}$"
        f"{base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    )


def check_password_line(line: str, user: str, password: str) -> bool:
    """Whether a password-file line (``$7$`` PBKDF2-SHA512 or ``$6$`` salted SHA512) admits them."""
    name, _, hashed = line.strip().partition(":")
    if name != user:
        return False
    parts = hashed.split("$")
    if len(parts) == 5 and parts[1] == "7":
        _, _, iterations, salt, digest = parts
        expected = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), base64.b64decode(salt), int(iterations), len(expected)
        )
        return hmac.compare_digest(got, expected)
    if len(parts) == 4 and parts[1] == "6":  # Mosquitto 1.x: sha512(password + salt)
        _, _, salt, digest = parts
        got = hashlib.sha512(password.encode() + base64.b64decode(salt)).digest()
        return hmac.compare_digest(got, base64.b64decode(digest))
    return False


def write_password_file(path: str | os.PathLike[str], users: Mapping[str, str]) -> Path:
    """Write a Mosquitto password file for ``users`` (name -> password), readable by owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(password_line(user, password) + "\n" for user, password in users.items())
    _write_private(path, text.encode())
    return path


# ------------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class DevCertificates:
    """Where the files of a development CA and its certificates are."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.directory / "client.key"

    def complete(self) -> bool:
        """Whether every file is there."""
        return all((self.directory / name).is_file() for name in CERT_FILES)


def make_dev_certificates(
    directory: str | os.PathLike[str],
    *,
    hosts: Iterable[str] = ("localhost", "127.0.0.1", "::1"),
    client_name: str = "factory5g-client",
    days: int = 825,
) -> DevCertificates:
    """Create a development CA, a server certificate for ``hosts`` and a client certificate.

    Keys are ECDSA P-256. The server certificate names every host as a subject alternative name
    (IP addresses as IP entries), so clients that check the host name accept it on loopback. The
    client certificate's common name is ``client_name`` (Mosquitto's ``use_identity_as_username``
    takes it as the user name). Existing files in ``directory`` are replaced.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out = DevCertificates(Path(directory))
    out.directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # tolerate a little clock skew
    hosts = list(hosts)

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "factory5g development"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )

    def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("factory5g development CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(common_name: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common_name))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=True,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    server_key, server_cert = leaf(
        hosts[0] if hosts else "localhost", ExtendedKeyUsageOID.SERVER_AUTH, sans
    )
    client_key, client_cert = leaf(client_name, ExtendedKeyUsageOID.CLIENT_AUTH, [])

    pem = serialization.Encoding.PEM
    out.ca.write_bytes(ca_cert.public_bytes(pem))
    _write_private(out.ca_key, key_pem(ca_key))
    out.server_cert.write_bytes(server_cert.public_bytes(pem))
    _write_private(out.server_key, key_pem(server_key))
    out.client_cert.write_bytes(client_cert.public_bytes(pem))
    _write_private(out.client_key, key_pem(client_key))
    return out


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the start (no window where others can read)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(tmp, path)
