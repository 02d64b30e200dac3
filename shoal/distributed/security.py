"""TLS credentials for scheduler, workers and clients: the ``Security`` object.

A ``Security`` names a CA file and, per role (scheduler, worker, client), a
certificate and key signed by that CA (or one certificate/key shared by all
roles).  It builds ``ssl.SSLContext`` objects for ``tls://`` comms with
mutual authentication: each side requires the other's certificate to be
signed by the CA, TLS 1.2 or newer.  Host names are not checked (workers
rarely have certificates naming each of their addresses); membership of
the cluster is proven by holding a certificate from the cluster's CA.

``Security.temporary()`` makes a fresh CA and one certificate for
127.0.0.1/localhost in a private temporary directory, for local clusters.

>>> sec = Security.temporary()
>>> ctx = sec.server_context("scheduler")
>>> ctx.verify_mode == ssl.CERT_REQUIRED, ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
(True, True)
>>> sorted(sec.connection_args("client"))
['require_encryption', 'ssl_context']
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import subprocess
import tempfile
import weakref
from typing import Any

__all__ = ["Security", "ROLES", "check_encryption", "as_security"]

#: The roles a process can have; each may have its own certificate.
ROLES = ("scheduler", "worker", "client")


class Security:
    """TLS settings for one process (or a whole local cluster).

    ``tls_ca_file``: PEM file of the CA that signs every member's certificate.
    ``tls_cert``/``tls_key``: a certificate and key for every role, unless
    ``tls_<role>_cert``/``tls_<role>_key`` give one for that role.  The key
    may be inside the certificate file (``tls_key`` left None).
    ``require_encryption``: refuse plain ``tcp://`` and ``inproc://`` addresses.

    >>> Security().listen_args("scheduler")  # no TLS: plain comms allowed
    {'require_encryption': False}
    >>> sec = Security.temporary()
    >>> sec.tls_enabled, sec.require_encryption
    (True, True)
    >>> flags = sec.cli_arguments("worker")  # for a shoal-worker command line
    >>> flags[0::2]
    ['--tls-ca-file', '--tls-cert', '--tls-key']
    """

    def __init__(self, tls_ca_file: str | None = None, tls_cert: str | None = None, tls_key: str | None = None, *,
                 tls_scheduler_cert: str | None = None, tls_scheduler_key: str | None = None,
                 tls_worker_cert: str | None = None, tls_worker_key: str | None = None,
                 tls_client_cert: str | None = None, tls_client_key: str | None = None,
                 require_encryption: bool = False):
        self.tls_ca_file = tls_ca_file
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.tls_scheduler_cert, self.tls_scheduler_key = tls_scheduler_cert, tls_scheduler_key
        self.tls_worker_cert, self.tls_worker_key = tls_worker_cert, tls_worker_key
        self.tls_client_cert, self.tls_client_key = tls_client_cert, tls_client_key
        self.require_encryption = bool(require_encryption)
        self._contexts: dict = {}
        self._tempdir: Any = None  # keeps Security.temporary()'s files alive as long as this object
        for path in [tls_ca_file, tls_cert, tls_key, tls_scheduler_cert, tls_scheduler_key,
                     tls_worker_cert, tls_worker_key, tls_client_cert, tls_client_key]:
            if path is not None and not os.path.isfile(path):
                raise FileNotFoundError(f"Security: TLS file {path!r} does not exist; check the path.")
        if (tls_cert or any(self._role_files(r)[0] for r in ROLES)) and not tls_ca_file:
            raise ValueError("Security: a TLS certificate was given without tls_ca_file; "
                             "give the CA file that signs the cluster's certificates.")

    # ------------------------------------------------------------------ files
    def _role_files(self, role: str) -> tuple:
        if role not in ROLES:
            raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}.")
        return getattr(self, f"tls_{role}_cert"), getattr(self, f"tls_{role}_key")

    def cert_and_key(self, role: str) -> tuple:
        """``(certificate file, key file or None)`` for ``role``; ValueError if there is none."""
        cert, key = self._role_files(role)
        if cert is None:
            cert, key = self.tls_cert, self.tls_key
        if cert is None:
            raise ValueError(f"Security: no TLS certificate for the {role}; give tls_cert/tls_key "
                             f"(or tls_{role}_cert/tls_{role}_key), or use Security.temporary().")
        return cert, key

    @property
    def tls_enabled(self) -> bool:
        """Whether TLS credentials are configured (a CA file is given)."""
        return self.tls_ca_file is not None

    # ------------------------------------------------------------------ contexts
    def _context(self, role: str, server_side: bool) -> ssl.SSLContext:
        if not self.tls_enabled:
            raise ValueError("Security: TLS is not configured (no tls_ca_file); cannot use tls:// addresses. "
                             "Give tls_ca_file, tls_cert and tls_key, or use Security.temporary().")
        cached = self._contexts.get((role, server_side))
        if cached is not None:
            return cached
        cert, key = self.cert_and_key(role)
        purpose = ssl.Purpose.CLIENT_AUTH if server_side else ssl.Purpose.SERVER_AUTH
        context = ssl.create_default_context(purpose, cafile=self.tls_ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = False  # membership is proven by the CA signature, see the module docstring
        context.verify_mode = ssl.CERT_REQUIRED  # on the server side too: mutual authentication
        context.load_cert_chain(cert, key)
        self._contexts[(role, server_side)] = context
        return context

    def server_context(self, role: str) -> ssl.SSLContext:
        """The context ``role`` listens with (requires the peer's certificate)."""
        return self._context(role, server_side=True)

    def client_context(self, role: str) -> ssl.SSLContext:
        """The context ``role`` connects with (presents its certificate, checks the server's)."""
        return self._context(role, server_side=False)

    def listen_args(self, role: str) -> dict:
        """Keyword arguments for ``comm.listen`` in ``role``."""
        args: dict = {"require_encryption": self.require_encryption}
        if self.tls_enabled:
            args["ssl_context"] = self.server_context(role)
        return args

    def connection_args(self, role: str) -> dict:
        """Keyword arguments for ``comm.connect`` in ``role``."""
        args: dict = {"require_encryption": self.require_encryption}
        if self.tls_enabled:
            args["ssl_context"] = self.client_context(role)
        return args

    def cli_arguments(self, role: str) -> list:
        """``--tls-ca-file/--tls-cert/--tls-key`` for a ``shoal-worker``/``shoal-scheduler`` command."""
        if not self.tls_enabled:
            return []
        cert, key = self.cert_and_key(role)
        out = ["--tls-ca-file", self.tls_ca_file, "--tls-cert", cert]
        if key is not None:
            out += ["--tls-key", key]
        return out

    # ------------------------------------------------------------------ config
    @classmethod
    def from_config(cls) -> Security:
        """The ``Security`` described by ``distributed.comm.tls.*`` and ``distributed.comm.require-encryption``.

        What ``security=None`` means for a Scheduler, Worker, Client or
        LocalCluster, so a whole deployment can be configured through
        ``SHOAL_DISTRIBUTED__COMM__TLS__CA_FILE`` and friends.  Nothing is set
        by default: no TLS.

        >>> Security.from_config().tls_enabled
        False
        """
        from shoal import config

        from .comm import settings  # noqa: F401  registers the defaults

        def get(key: str) -> Any:
            value = config.get(f"distributed.comm.tls.{key}", None)
            return None if value in (None, "", False) else str(value)

        roles = {f"tls_{role}_{part}": get(f"{role}.{part}") for role in ROLES for part in ("cert", "key")}
        return cls(get("ca-file"), get("cert"), get("key"), **roles,
                   require_encryption=bool(config.get("distributed.comm.require-encryption", False)))

    # ------------------------------------------------------------------ temporary
    @classmethod
    def temporary(cls, *, require_encryption: bool = True) -> Security:
        """A fresh CA and one certificate for 127.0.0.1/localhost, in a private temporary directory.

        The files are removed when the returned object is garbage collected.
        """
        tempdir = tempfile.TemporaryDirectory(prefix="shoal-tls-")
        ca_file = os.path.join(tempdir.name, "ca.pem")
        cert_file = os.path.join(tempdir.name, "cert.pem")
        key_file = os.path.join(tempdir.name, "key.pem")
        try:
            import cryptography  # noqa: F401
        except ImportError:
            _generate_with_openssl(tempdir.name, ca_file, cert_file, key_file)
        else:
            _generate_with_cryptography(ca_file, cert_file, key_file)
        security = cls(ca_file, cert_file, key_file, require_encryption=require_encryption)
        security._tempdir = tempdir
        weakref.finalize(security, tempdir.cleanup)
        return security

    def __repr__(self) -> str:
        if not self.tls_enabled:
            return f"<Security no TLS require_encryption={self.require_encryption}>"
        return f"<Security ca={self.tls_ca_file!r} require_encryption={self.require_encryption}>"


def as_security(security: Security | bool | None) -> Security:
    """``security`` as a ``Security``: None means ``Security.from_config()`` (no TLS unless
    configured), False no TLS at all, True a fresh ``Security.temporary()``.

    >>> as_security(None).tls_enabled
    False
    """
    if security is None:
        return Security.from_config()
    if security is False:
        return Security()
    if security is True:
        return Security.temporary()
    if not isinstance(security, Security):
        raise TypeError(f"security= expects a shoal.distributed.Security, True or None; got {type(security).__name__}.")
    return security


def check_encryption(address: str, scheme: str, require_encryption: bool) -> None:
    """ValueError if ``require_encryption`` and ``address`` is not ``tls://``.

    >>> check_encryption("tcp://127.0.0.1:1", "tcp", True)
    Traceback (most recent call last):
    ...
    ValueError: Encryption is required (Security(require_encryption=True)) but 'tcp://127.0.0.1:1' is not encrypted; use a tls:// address.
    """
    if require_encryption and scheme != "tls":
        raise ValueError(f"Encryption is required (Security(require_encryption=True)) but {address!r} "
                         "is not encrypted; use a tls:// address.")


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _generate_with_cryptography(ca_file: str, cert_file: str, key_file: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=7)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shoal temporary CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # One certificate serves as server (scheduler, worker listening) and client (connecting).
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    with open(ca_file, "wb") as f:
        f.write(ca_cert.public_bytes(pem))
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(pem))
    _write_private(key_file, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _generate_with_openssl(directory: str, ca_file: str, cert_file: str, key_file: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("Security.temporary() needs the 'cryptography' package or the 'openssl' command; "
                           "install one of them (pip install cryptography), or give your own certificates.")
    ca_key = os.path.join(directory, "ca-key.pem")
    csr = os.path.join(directory, "cert.csr")
    ext = os.path.join(directory, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n")

    def run(*args: str) -> None:
        done = subprocess.run([openssl, *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed while making temporary TLS credentials: {done.stderr}")

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", ca_key, "-out", ca_file, "-days", "7", "-subj", "/CN=shoal temporary CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key_file, "-out", csr, "-subj", "/CN=localhost")
    run("x509", "-req", "-in", csr, "-CA", ca_file, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert_file, "-days", "7", "-extfile", ext)
    os.chmod(key_file, 0o600)
