"""A real RFC 3161 timestamp authority for the tests: ``openssl ts -reply`` behind an HTTP endpoint.

:class:`Authority` makes its own CA and a signing certificate whose extended key usage is
timeStamping (critical, as RFC 3161 asks), writes the ``openssl ts`` configuration, and serves
``POST /`` (``application/timestamp-query``) on 127.0.0.1, a port the system picks: each query is
answered by a ``openssl ts -reply`` process.  ``mode`` makes it misbehave: ``"garbage"`` answers
bytes that are no timestamp response, ``"stall"`` never answers.
"""

from __future__ import annotations

import datetime
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CONFIG = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_authority_files(directory: Path, name: str) -> None:
    """A CA (``ca.pem``) and a TSA certificate it signed (``tsa.pem``, ``tsa.key``) in *directory*."""
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    later = now + datetime.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    root = _name(f"{name} Root CA")
    ca = (x509.CertificateBuilder().subject_name(root).issuer_name(root)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(later)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       key_cert_sign=True, crl_sign=True, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    tsa = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca.subject)
           .public_key(key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now).not_valid_after(later)
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
           .sign(ca_key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(_pem(ca))
    (directory / "tsa.pem").write_bytes(_pem(tsa))
    (directory / "tsa.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (directory / "serial").write_text("01\n")
    (directory / "openssl.cnf").write_text(CONFIG.format(dir=directory))


class Authority:
    """A timestamp authority for the length of a ``with`` block; :attr:`url` reaches it, :attr:`ca`
    is its root certificate (PEM file)."""

    def __init__(self, name: str = "Test TSA", mode: str = "ok") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="newsspider-tsa-"))
        self.name, self.mode = name, mode
        make_authority_files(self.dir, name)
        self.lock = threading.Lock()
        self.queries = 0
        self.server: ThreadingHTTPServer | None = None
        self.stop_stalls = threading.Event()

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/tsr"

    def reply(self, query: bytes) -> bytes:
        with self.lock:  # openssl ts counts its serial number in a file
            self.queries += 1
            done = subprocess.run(["openssl", "ts", "-reply", "-config", str(self.dir / "openssl.cnf"),
                                   "-queryfile", "/dev/stdin"], input=query, capture_output=True,
                                  check=False, timeout=30)
        if done.returncode:
            raise RuntimeError(done.stderr.decode(errors="replace"))
        return done.stdout

    def __enter__(self) -> Authority:
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if authority.mode == "stall":
                    authority.stop_stalls.wait(60)
                    return
                garbage = authority.mode == "garbage"
                body = b"<html>not a timestamp</html>" if garbage else authority.reply(query)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop_stalls.set()
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


def down_url() -> str:
    """The URL of an authority that is down: a port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    time.sleep(0)
    return f"http://127.0.0.1:{port}/tsr"


def main() -> None:
    """``python -m tests.tsa``: a local timestamp authority to try ``--timestamp`` without the internet
    (in a checkout of this repository).  It prints its URL and its CA certificate (for ``verify
    --tsa-cert``) and serves until Ctrl-C."""
    import contextlib
    import shutil
    import sys

    keep = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("local-tsa-ca.pem")
    with Authority("newsspider local test TSA") as authority:
        shutil.copyfile(authority.ca, keep)
        print(f"Timestamp authority at {authority.url} (its CA certificate: {keep}); Ctrl-C stops it",
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
