"""Evidence: what proves that the archive holds what the site served, then, unchanged since.

* **Run manifests.**  Each crawl writes ``<data dir>/evidence/run-NNNNN.json`` (``run-NNNNN-<worker>.json``
  in a distributed crawl): every WARC file it wrote, with its size, SHA-256 and first and last
  capture time.  The SHA-256 is counted as the file is written, so it costs nothing; the manifest is
  written again each time a WARC file is closed (rotated, or at the end of the run).
* **Timestamps.**  An RFC 3161 authority signs the manifest's SHA-256 with its time; its answer
  (a ``TimeStampResp``, DER, as ``openssl ts -reply`` writes it) is kept beside the manifest as
  ``run-NNNNN.json.<authority>.tsr``.  ``openssl ts -verify -in TOKEN -data MANIFEST -CAfile CA``
  checks one without newsspider.
* **Signed WACZ.**  ``datapackage-digest.json`` gets ``signedData`` as the WACZ auth spec has it
  (webrecorder's ``wacz-auth``): the SHA-256 of ``datapackage.json`` (``hash``), ``created``, an
  anonymous ECDSA P-256 signature of the hash (``signature``: base64 DER, SHA-256, as authsign writes
  it) with the public key (``publicKey``: base64 DER SubjectPublicKeyInfo), and RFC 3161 timestamps of
  the signature (``timeSignature``: base64 ``TimeStampResp``; ``timestampCert``: the authority's
  certificates, PEM); with several authorities, each in ``timeSignatures``.  The package carries the
  run manifests and their tokens (``evidence/``) and the dataset (``dataset/``).
* **Verification**, offline: :func:`verify_data_dir`, :func:`verify_wacz`, :func:`certificate`.

No Scrapy here: the crawl's side is in :mod:`newsspider.archive.capture`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import socket
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, ClassVar

from newsspider import __version__
from newsspider.core.errors import NewsspiderError
from newsspider.dataset.layout import EVIDENCE_DIR, SHARD_GLOB, WARC_DIR
from newsspider.dataset.reader import display_path

__all__ = ["EvidenceError", "Report", "RunManifest", "certificate", "certificate_html", "load_key",
           "new_key", "request_timestamp", "sign_package", "timestamp_file", "verify_data_dir",
           "verify_wacz"]

MANIFEST_FORMAT = "newsspider-manifest-1"
#: the environment variable an encrypted key's password is read from (never a command-line option)
PASSWORD_ENV = "NEWSSPIDER_KEY_PASSWORD"
#: where a WACZ keeps the run manifests and their tokens, and the dataset
WACZ_EVIDENCE = "evidence"
WACZ_DATASET = "dataset"
WACZ_WARC = "archive"


class EvidenceError(NewsspiderError, ValueError):
    """A key, a token, a package that cannot be read or used: said in one line."""


class TimestampError(EvidenceError):
    """A timestamp authority that did not give a good token."""


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- run manifests -----------------------------------------------------------------------------


@dataclass
class WarcEntry:
    """One WARC file of a run: its name (relative to the data dir), size, SHA-256, capture times."""

    file: str
    size: int
    sha256: str
    first_capture: str
    last_capture: str
    records: int


def manifest_name(run_id: int, worker: str = "") -> str:
    """The name of a run's manifest.

    >>> manifest_name(5), manifest_name(12, "host-9")
    ('run-00005.json', 'run-00012-host-9.json')
    """
    return f"run-{run_id:05d}{f'-{worker}' if worker else ''}.json"


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class RunManifest:
    """The manifest of one run (one worker's): the WARC files it closed, written again on each."""

    def __init__(self, data_dir: Path, run_id: int, worker: str = "") -> None:
        self.data_dir = data_dir
        self.run_id, self.worker = run_id, worker
        self.path = data_dir / EVIDENCE_DIR / manifest_name(run_id, worker)
        self.entries: list[WarcEntry] = []
        self.created = now_iso()

    def add(self, entry: WarcEntry) -> Path:
        self.entries.append(entry)
        return self.write()

    def content(self) -> dict[str, Any]:
        return {"format": MANIFEST_FORMAT, "software": f"newsspider {__version__}", "run": self.run_id,
                "worker": self.worker, "created": self.created, "written": now_iso(),
                "files": [vars(entry) for entry in self.entries]}

    def write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.content(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        _write_atomically(self.path, text.encode("utf-8"))
        return self.path


def manifests(data_dir: Path) -> list[Path]:
    """The run manifests of *data_dir*, oldest run first."""
    return sorted((data_dir / EVIDENCE_DIR).glob("run-*.json"))


def tokens_of(manifest: Path) -> list[Path]:
    """The timestamp tokens kept beside *manifest*."""
    return sorted(manifest.parent.glob(f"{glob_escape(manifest.name)}.*.tsr"))


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise EvidenceError(f"{where}: not a run manifest (not JSON)") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT \
            or not isinstance(manifest.get("files"), list):
        raise EvidenceError(f"{where}: not a run manifest ({MANIFEST_FORMAT})")
    return manifest


# --- timestamps --------------------------------------------------------------------------------


def authority_slug(url: str) -> str:
    """A file-name part naming the authority at *url*.

    >>> authority_slug("http://127.0.0.1:8080/tsr"), authority_slug("https://freetsa.org/tsr")
    ('127.0.0.1-8080', 'freetsa.org')
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    name = (parts.hostname or "authority") + (f"-{parts.port}" if parts.port else "")
    return re.sub(r"[^A-Za-z0-9.-]", "-", name)


def token_path(target: Path, url: str) -> Path:
    return target.with_name(f"{target.name}.{authority_slug(url)}.tsr")


def request_timestamp(data: bytes, url: str, timeout: float = 10.0) -> bytes:
    """An RFC 3161 timestamp of *data*'s SHA-256 from the authority at *url*: its ``TimeStampResp``
    (DER), checked to be granted, for this digest and this request (its nonce)."""
    try:
        from rfc3161_client import (
            HashAlgorithm,
            PKIStatus,
            TimestampRequestBuilder,
            decode_timestamp_response,
        )
    except ImportError as exc:
        raise TimestampError(f"timestamp authority {url}: not asked: timestamps need rfc3161-client "
                             "(pip install 'newsspider[evidence]')") from exc

    query = (TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256)
             .nonce(nonce=True).cert_request(cert_request=True).build())
    request = urllib.request.Request(url, data=query.as_bytes(), method="POST",
                                     headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read(1 << 20)
    except urllib.error.HTTPError as exc:
        raise TimestampError(f"timestamp authority {url}: answered HTTP {exc.code}") from exc
    except TimeoutError as exc:
        raise TimestampError(f"timestamp authority {url}: no answer within {timeout:g} s") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = "no answer within the timeout" if isinstance(reason, (TimeoutError, socket.timeout)) else (
            getattr(reason, "strerror", None) or str(reason))
        raise TimestampError(f"timestamp authority {url}: cannot be reached ({text})") from exc
    except (OSError, ValueError) as exc:
        raise TimestampError(f"timestamp authority {url}: cannot be reached "
                             f"({getattr(exc, 'strerror', None) or exc})") from exc
    try:
        response = decode_timestamp_response(body)
        granted = response.status in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS)
        info = response.tst_info if granted else None
    except ValueError as exc:
        raise TimestampError(f"timestamp authority {url}: answered something that is not an RFC 3161 "
                             "timestamp response") from exc
    if info is None:
        raise TimestampError(f"timestamp authority {url}: refused (status {response.status})")
    if info.message_imprint.message != hashlib.sha256(data).digest() or info.nonce != query.nonce:
        raise TimestampError(f"timestamp authority {url}: its token is not for what was asked")
    return body


def timestamp_file(path: Path, urls: Iterable[str], timeout: float = 10.0
                   ) -> tuple[list[Path], list[str]]:
    """Timestamp the file *path* by each authority of *urls* (at once); keep each token beside it.
    Return the tokens written and one line per authority that gave none."""
    data = path.read_bytes()
    urls = list(dict.fromkeys(urls))
    if not urls:
        return [], []
    written: list[Path] = []
    problems: list[str] = []
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        answers = list(pool.map(lambda url: _stamp(data, url, timeout), urls))
    for url, answer in zip(urls, answers, strict=True):
        if isinstance(answer, TimestampError):
            problems.append(str(answer))
            continue
        token = token_path(path, url)
        _write_atomically(token, answer)
        written.append(token)
    return written, problems


def _stamp(data: bytes, url: str, timeout: float) -> bytes | TimestampError:
    try:
        return request_timestamp(data, url, timeout)
    except TimestampError as exc:
        return exc


@dataclass(frozen=True)
class Stamp:
    """A timestamp token that verified: who signed it, the time it gives, the digest it covers."""

    authority: str
    time: str
    digest: str
    trusted_by: str


def _pem_certificates(data: bytes, where: str) -> list[Any]:
    from cryptography import x509

    try:
        return list(x509.load_pem_x509_certificates(data))
    except ValueError as exc:
        raise EvidenceError(f"{where}: no PEM certificate in it") from exc


def load_trusted(paths: Iterable[Path]) -> list[Any]:
    """The certificates of the PEM files *paths* (``--tsa-cert``)."""
    found = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise EvidenceError(f"--tsa-cert {display_path(path)}: cannot be read "
                                f"({exc.strerror or type(exc).__name__})") from exc
        found += _pem_certificates(data, f"--tsa-cert {display_path(path)}")
    return found


def _token_certificates(response: Any) -> list[Any]:
    from cryptography import x509

    return [x509.load_der_x509_certificate(der) for der in response.signed_data.certificates]


def check_token(token: bytes, data: bytes, trusted: list[Any], kept: list[Any] | None = None) -> Stamp:
    """The stamp of the RFC 3161 *token* (a ``TimeStampResp``) over *data*, checked: its signature by an
    authority whose chain ends at one of *trusted* (``--tsa-cert``); with none, at a root certificate
    the archive keeps (*kept*, and the token's own).  Raises :class:`EvidenceError` saying why not."""
    from cryptography.x509.oid import NameOID
    from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

    try:
        response = decode_timestamp_response(token)
        info = response.tst_info
        own = _token_certificates(response)
    except ValueError as exc:
        raise EvidenceError("not an RFC 3161 timestamp response") from exc
    digest = hashlib.sha256(data).digest()
    if info.message_imprint.message != digest:
        raise EvidenceError(f"covers another digest ({info.message_imprint.message.hex()[:16]}…, "
                            f"not {digest.hex()[:16]}…)")
    roots = list(trusted)
    trusted_by = "--tsa-cert"
    if not roots:
        roots = [c for c in [*(kept or []), *own] if c.subject == c.issuer]
        trusted_by = "the authority's certificate kept in the archive"
        if not roots:
            raise EvidenceError("carries no root certificate of its authority: give it with --tsa-cert")
    builder = VerifierBuilder()
    for root in {r.fingerprint(_sha256()): r for r in roots}.values():
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(response, digest)
    except VerificationError as exc:
        reason = "not signed by a trusted authority" if "certificate" in str(exc).lower() else str(exc)
        raise EvidenceError(f"{reason} ({trusted_by})") from exc
    signer = next((c for c in own if any(si.serial_number == c.serial_number and si.issuer == c.issuer
                                         for si in response.signed_data.signer_infos)), None)
    names = signer.subject.get_attributes_for_oid(NameOID.COMMON_NAME) if signer is not None else []
    authority = str(names[0].value) if names else (signer.subject.rfc4514_string() if signer else "?")
    return Stamp(authority, info.gen_time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "sha256:" + digest.hex(), trusted_by)


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


# --- keys and signatures ---------------------------------------------------------------------


def new_key(path: Path, password: bytes | None = None) -> str:
    """Write a new ECDSA P-256 private key (PEM, PKCS#8; encrypted with *password*) to *path*, readable
    by its owner only; return its public key's fingerprint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if path.exists():
        raise EvidenceError(f"{display_path(path)}: exists already; a key is never overwritten")
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    except OSError as exc:
        raise EvidenceError(f"{display_path(path)}: cannot be written ({exc.strerror})") from exc
    return fingerprint(public_key_der(key.public_key()))


def public_key_der(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER,  # type: ignore[no-any-return]
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(spki_der: bytes) -> str:
    """The fingerprint of a public key: SHA-256 of its DER SubjectPublicKeyInfo, as
    ``openssl pkey -pubin -outform DER | sha256sum`` prints it.

    >>> fingerprint(b"key")[:23]
    'sha256:2c70e12b7a0646f9'
    """
    return "sha256:" + hashlib.sha256(spki_der).hexdigest()


def load_key(path: Path, password: Callable[[], bytes | None]) -> Any:
    """The ECDSA P-256 private key of the PEM file *path*; *password* is asked only when it is
    encrypted (and never shown)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    where = f"--sign {display_path(path)}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvidenceError(f"{where}: cannot be read ({exc.strerror or type(exc).__name__})") from exc
    if b"-----BEGIN" not in data or b"PRIVATE KEY-----" not in data:
        raise EvidenceError(f"{where}: not a PEM private key (make one with newsspider key new FILE)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # encrypted
        given = password()
        if not given:
            raise EvidenceError(f"{where}: the key is encrypted: set {PASSWORD_ENV}, or run on a "
                                "terminal to be asked") from None
        try:
            key = serialization.load_pem_private_key(data, password=given)
        except ValueError:
            raise EvidenceError(f"{where}: wrong password for the encrypted key") from None
    except ValueError:
        raise EvidenceError(f"{where}: not a readable PEM private key") from None
    except Exception:  # cryptography's UnsupportedAlgorithm and other refusals
        raise EvidenceError(f"{where}: not a readable PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise EvidenceError(f"{where}: not an ECDSA P-256 key (the WACZ signature's kind; make one with "
                            "newsspider key new FILE)")
    return key


def sign_hash(hash_text: str, created: str, key: Any, authorities: list[str], timeout: float
              ) -> tuple[dict[str, Any], list[str]]:
    """``signedData`` for *hash_text* (``sha256:…`` of datapackage.json): signature, public key and
    the authorities' timestamps of the signature; and one line per authority that gave none."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    signature = base64.b64encode(key.sign(hash_text.encode("ascii"), ec.ECDSA(hashes.SHA256()))).decode()
    signed: dict[str, Any] = {"hash": hash_text, "created": created, "software": f"newsspider {__version__}",
                              "version": "0.1.0", "signature": signature,
                              "publicKey": base64.b64encode(public_key_der(key.public_key())).decode()}
    problems: list[str] = []
    stamps = []
    for url in dict.fromkeys(authorities):
        answer = _stamp(signature.encode("ascii"), url, timeout)
        if isinstance(answer, TimestampError):
            problems.append(str(answer))
            continue
        from cryptography.hazmat.primitives import serialization
        from rfc3161_client import decode_timestamp_response

        certs = _token_certificates(decode_timestamp_response(answer))
        stamps.append({"authority": url, "timeSignature": base64.b64encode(answer).decode(),
                       "timestampCert": "".join(c.public_bytes(serialization.Encoding.PEM).decode()
                                                for c in certs)})
    if stamps:
        signed["timeSignature"] = stamps[0]["timeSignature"]
        signed["timestampCert"] = stamps[0]["timestampCert"]
        signed["timeSignatures"] = stamps
    return signed, problems


def _check_signature(signed: dict[str, Any]) -> str:
    """The signer's key fingerprint, once the signature of ``signedData`` verifies; else why not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signed.get("publicKey"):
        raise EvidenceError("signed with a domain certificate (no publicKey): not checked by newsspider")
    try:
        der = base64.b64decode(signed["publicKey"], validate=True)
        key = serialization.load_der_public_key(der)
        signature = base64.b64decode(signed["signature"], validate=True)
    except (ValueError, TypeError, KeyError) as exc:
        raise EvidenceError("its publicKey or signature cannot be read") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise EvidenceError("its publicKey is not an ECDSA key")
    try:
        key.verify(signature, str(signed.get("hash", "")).encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise EvidenceError(f"the signature does not verify with its public key "
                            f"({fingerprint(der)})") from exc
    return fingerprint(der)


# --- the WACZ's signature ------------------------------------------------------------------------


def evidence_files(data_dir: Path) -> list[Path]:
    """The manifests and tokens a WACZ of *data_dir* carries."""
    return [p for m in manifests(data_dir) for p in (m, *tokens_of(m))]


def sign_package(built: Path, out: IO[bytes], data_dir: Path, key: Any | None, authorities: list[str],
                 timeout: float = 10.0) -> list[str]:
    """Copy py-wacz's package *built* to *out*, with the run manifests, their tokens and the dataset
    added (listed in ``datapackage.json``) and ``datapackage-digest.json`` signed by *key* and
    timestamped by *authorities*.  Return one line per authority that gave no timestamp."""
    added: list[tuple[str, Path]] = [(f"{WACZ_EVIDENCE}/{p.name}", p) for p in evidence_files(data_dir)]
    added += [(f"{WACZ_DATASET}/{p.name}", p) for p in sorted(data_dir.glob(SHARD_GLOB))]
    with zipfile.ZipFile(built) as source, zipfile.ZipFile(out, "w") as target:
        package = json.loads(source.read("datapackage.json"))
        for info in source.infolist():
            if info.filename in ("datapackage.json", "datapackage-digest.json"):
                continue
            with source.open(info) as member, target.open(info, "w") as copy:
                while chunk := member.read(1 << 20):
                    copy.write(chunk)
        for name, path in added:
            info = zipfile.ZipInfo(name, datetime.now(timezone.utc).timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            digest = hashlib.sha256()
            with path.open("rb") as handle, target.open(info, "w") as copy:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                    copy.write(chunk)
            package["resources"].append({"name": path.name, "path": name, "bytes": path.stat().st_size,
                                         "hash": f"sha256:{digest.hexdigest()}"})
        data = json.dumps(package, indent=2).encode("utf-8")
        info = zipfile.ZipInfo("datapackage.json", datetime.now(timezone.utc).timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        target.writestr(info, data)
        digest_file: dict[str, Any] = {"path": "datapackage.json",
                                       "hash": "sha256:" + hashlib.sha256(data).hexdigest()}
        problems: list[str] = []
        if key is not None:
            digest_file["signedData"], problems = sign_hash(digest_file["hash"], package.get("created", ""),
                                                            key, authorities, timeout)
        info = zipfile.ZipInfo("datapackage-digest.json", datetime.now(timezone.utc).timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        target.writestr(info, json.dumps(digest_file, indent=2))
    return problems


# --- verification ------------------------------------------------------------------------------


@dataclass
class Report:
    """What a verification found: one line per problem (naming the file or record), notes on what it
    could not prove, and what it proved."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    records: int = 0
    stamps: list[tuple[str, Stamp]] = field(default_factory=list)
    signer: str = ""
    manifest_of: dict[str, str] = field(default_factory=dict)  # WARC file -> its manifest

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self, what: str) -> str:
        against = "its manifest" if self.files == 1 else "their manifests"
        proved = [f"{_count(self.files, 'WARC file')} against {against}",
                  f"{_count(self.records, 'record')} against the WARCs"]
        if self.stamps:
            proved.append(_count(len(self.stamps), "timestamp"))
        if self.signer:
            proved.append(f"the signature of {self.signer}")
        if self.ok:
            return f"{what}: verified: {', '.join(proved)}"
        return f"{what}: {_count(len(self.problems), 'problem')} found; checked {', '.join(proved)}"


def _count(n: int, what: str) -> str:
    """
    >>> _count(1, "record"), _count(2, "WARC file")
    ('1 record', '2 WARC files')
    """
    return f"{n} {what}{'' if n == 1 else 's'}"


class _Source:
    """Files of a data dir or of a WACZ, by the name a data dir gives them."""

    def names(self, pattern: str) -> list[str]:
        raise NotImplementedError

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        with self.open(name) as handle:
            return handle.read()

    def where(self, name: str) -> str:
        return name


class _DirSource(_Source):
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir

    def names(self, pattern: str) -> list[str]:
        return sorted(str(p.relative_to(self.dir)) for p in self.dir.glob(pattern) if p.is_file())

    def open(self, name: str) -> IO[bytes]:
        return (self.dir / name).open("rb")

    def exists(self, name: str) -> bool:
        return (self.dir / name).is_file()

    def where(self, name: str) -> str:
        return display_path(self.dir / name)


class _ZipSource(_Source):
    #: a data dir's directories -> the WACZ's
    MAP: ClassVar[dict[str, str]] = {WARC_DIR: WACZ_WARC, EVIDENCE_DIR: WACZ_EVIDENCE, "": WACZ_DATASET}

    def __init__(self, archive: zipfile.ZipFile, path: Path) -> None:
        self.zip, self.path = archive, path
        self.members = set(archive.namelist())

    def member(self, name: str) -> str:
        head, _, tail = name.rpartition("/")
        return f"{self.MAP.get(head, head)}/{tail}"

    def names(self, pattern: str) -> list[str]:
        import fnmatch

        head, _, tail = pattern.rpartition("/")
        inside = self.MAP.get(head, head)
        return sorted(f"{head}/{m.rpartition('/')[2]}".lstrip("/") for m in self.members
                      if m.startswith(inside + "/") and fnmatch.fnmatchcase(m.rpartition("/")[2], tail))

    def open(self, name: str) -> IO[bytes]:
        return self.zip.open(self.member(name))

    def exists(self, name: str) -> bool:
        return self.member(name) in self.members

    def where(self, name: str) -> str:
        return f"{display_path(self.path)}:{self.member(name)}"


def _file_sha256(handle: IO[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    while chunk := handle.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _check_manifests(source: Any, report: Report, trusted: list[Any], kept: list[Any]) -> None:
    for name in source.names(f"{EVIDENCE_DIR}/run-*.json"):
        data = source.read(name)
        try:
            manifest = _parse_manifest(data, source.where(name))
        except EvidenceError as exc:
            report.problems.append(str(exc))
            continue
        tokens = [t for t in source.names(f"{EVIDENCE_DIR}/{glob_escape(name.rpartition('/')[2])}.*.tsr")]
        for token in tokens:
            try:
                report.stamps.append((name, check_token(source.read(token), data, trusted, kept)))
            except EvidenceError as exc:
                report.problems.append(f"{source.where(token)}: timestamp of "
                                       f"{name.rpartition('/')[2]}: {exc}")
        if not tokens:
            report.notes.append(f"{source.where(name)}: not timestamped (newsspider dataset timestamp "
                                "DATA_DIR --timestamp URL)")
        for entry in manifest["files"]:
            file = str(entry.get("file", ""))
            report.manifest_of[file] = name
            if not file.startswith(f"{WARC_DIR}/") or not source.exists(file):
                report.problems.append(f"{source.where(file)}: missing (listed in {name})")
                continue
            with source.open(file) as handle:
                size, digest = _file_sha256(handle)
            report.files += 1
            if (size, digest) != (entry.get("size"), entry.get("sha256")):
                change = "size" if size != entry.get("size") else "content"
                report.problems.append(f"{source.where(file)}: changed since its manifest {name} was written "
                                       f"({change}: sha256 {digest[:16]}…, {size} bytes; the manifest has "
                                       f"{str(entry.get('sha256'))[:16]}…, {entry.get('size')} bytes)")
    for file in source.names(f"{WARC_DIR}/*.warc.gz"):
        if file not in report.manifest_of:
            report.notes.append(f"{source.where(file)}: in no run manifest (written before evidence was "
                                "kept, or by a crawl that was killed)")


@dataclass(frozen=True)
class Payload:
    """The archived response a record points at, read back: its id, URL, date, digests."""

    record_id: str
    url: str
    date: str
    warc_digest: str
    sha1: str
    sha256: str


def _payload(handle: IO[bytes], offset: int) -> Payload | None:
    from warcio.archiveiterator import ArchiveIterator

    from newsspider.archive.warcfile import payload_digest

    handle.seek(offset)
    if handle.read(2) != b"\x1f\x8b":  # a record starts here: a gzip member (one per record)
        return None
    handle.seek(offset)
    for record in ArchiveIterator(handle):
        if record.rec_type != "response":
            return None
        body = record.raw_stream.read()
        id_, url, date, digest = (record.rec_headers.get_header(name) or "" for name in (
            "WARC-Record-ID", "WARC-Target-URI", "WARC-Date", "WARC-Payload-Digest"))
        return Payload(id_, url, date, digest, payload_digest(body),
                       "sha256:" + hashlib.sha256(body).hexdigest())
    return None


def _records(source: Any) -> Iterator[tuple[str, int, dict[str, Any] | None]]:
    for shard in source.names(SHARD_GLOB):
        with source.open(shard) as handle:
            for lineno, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = None
                yield shard, lineno, record if isinstance(record, dict) else None


def check_record(source: Any, record: dict[str, Any], where: str) -> tuple[list[str], Payload | None]:
    """The problems of one dataset record: its content hash, its WARC pointer, its page's digest."""
    from newsspider.extract.processors import content_hash

    problems = []
    title, body = record.get("title"), record.get("body")
    if isinstance(title, str) and isinstance(body, str) \
            and record.get("content_hash") != content_hash(title, body):
        problems.append(f"{where}: content_hash is not the hash of its title and body")
    pointer = record.get("warc")
    if not pointer:
        return problems, None
    file, offset = str(pointer.get("file", "")), pointer.get("offset")
    if not file.startswith(f"{WARC_DIR}/") or ".." in file or not source.exists(file):
        return [*problems, f"{where}: its WARC pointer names {file!r}, not a WARC file of the archive"], None
    try:
        with source.open(file) as handle:
            payload = _payload(handle, int(offset))
    except Exception:  # whatever the bytes there are: not a record
        payload = None
    if payload is None:
        return [*problems, f"{where}: its WARC pointer ({file}, offset {offset}) is not at a response "
                           "record"], None
    if payload.record_id != pointer.get("record_id"):
        problems.append(f"{where}: its WARC pointer ({file}, offset {offset}) is at record "
                        f"{payload.record_id}, not {pointer.get('record_id')}")
    if payload.warc_digest != payload.sha1:
        problems.append(f"{where}: the archived page's payload ({file}, offset {offset}) is not what its "
                        f"WARC-Payload-Digest says ({payload.sha1}, not {payload.warc_digest})")
    return problems, payload


def _check_records(source: Any, report: Report) -> None:
    for shard, lineno, record in _records(source):
        where = f"{source.where(shard)}:{lineno}"
        if record is None:
            report.problems.append(f"{where}: not a record (not a JSON object)")
            continue
        where += f" (article {record.get('article_id')} version {record.get('version')})"
        problems, _ = check_record(source, record, where)
        report.problems += problems
        report.records += 1


def verify_data_dir(data_dir: Path, trusted: list[Any]) -> Report:
    """Verify a data dir: each WARC file against its run manifest, each manifest's timestamps, each
    record's content hash and WARC pointer and the archived page's payload digest."""
    report = Report()
    source = _DirSource(data_dir)
    _check_manifests(source, report, trusted, [])
    if not manifests(data_dir):
        report.notes.append(f"{display_path(data_dir / EVIDENCE_DIR)}: no run manifests (crawled before "
                            "newsspider kept them)")
    _check_records(source, report)
    return report


def verify_wacz(path: Path, trusted: list[Any]) -> Report:
    """Verify a WACZ: every file's hash against datapackage.json, its hash against
    datapackage-digest.json, the signature and its timestamps, the run manifests and their tokens, each
    WARC against its manifest, and the dataset's records against the WARCs it carries."""
    report = Report()
    where = display_path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise EvidenceError(f"{where}: not a WACZ (not a zip file)") from exc
    with archive:
        members = set(archive.namelist())
        if "datapackage.json" not in members:
            raise EvidenceError(f"{where}: not a WACZ (no datapackage.json)")
        package_bytes = archive.read("datapackage.json")
        try:
            package = json.loads(package_bytes)
            resources = {r["path"]: r for r in package["resources"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise EvidenceError(f"{where}:datapackage.json: not a WACZ data package") from exc
        for name in sorted(members - {"datapackage.json", "datapackage-digest.json"}):
            if name.endswith("/"):
                continue
            if name not in resources:
                report.problems.append(f"{where}:{name}: not listed in datapackage.json")
                continue
            algorithm, _, expected = str(resources[name].get("hash", "")).partition(":")
            if algorithm not in ("sha256", "md5"):
                report.problems.append(f"{where}:{name}: its hash in datapackage.json is not sha256")
                continue
            digest = hashlib.new(algorithm)
            with archive.open(name) as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            if digest.hexdigest() != expected:
                report.problems.append(f"{where}:{name}: changed (its {algorithm} is not the one "
                                       "datapackage.json lists)")
        for name in sorted(set(resources) - members):
            report.problems.append(f"{where}:{name}: listed in datapackage.json, missing from the package")
        kept = _check_digest(archive, package, package_bytes, where, report, trusted)
        source = _ZipSource(archive, path)
        _check_manifests(source, report, trusted, kept)
        _check_records(source, report)
    return report


def _check_digest(archive: zipfile.ZipFile, package: dict[str, Any], package_bytes: bytes, where: str,
                  report: Report, trusted: list[Any]) -> list[Any]:
    """Check datapackage-digest.json, its signature and timestamps; return the authorities' certificates
    it keeps."""
    name = f"{where}:datapackage-digest.json"
    try:
        digest_file = json.loads(archive.read("datapackage-digest.json"))
    except KeyError:
        report.notes.append(f"{where}: not signed (no datapackage-digest.json)")
        return []
    except ValueError:
        report.problems.append(f"{name}: not JSON")
        return []
    actual = "sha256:" + hashlib.sha256(package_bytes).hexdigest()
    if not isinstance(digest_file, dict) or digest_file.get("hash") != actual:
        report.problems.append(f"{where}:datapackage.json: changed (its hash is not the one "
                               "datapackage-digest.json holds)")
    signed = digest_file.get("signedData") if isinstance(digest_file, dict) else None
    if not isinstance(signed, dict):
        report.notes.append(f"{where}: not signed (packaged without --sign)")
        return []
    if signed.get("hash") != (digest_file.get("hash")):
        report.problems.append(f"{name}: the signed hash is not datapackage.json's")
    if signed.get("created") != package.get("created"):
        report.problems.append(f"{name}: the signed time ({signed.get('created')}) is not datapackage.json's "
                               f"created ({package.get('created')})")
    try:
        report.signer = _check_signature(signed)
    except EvidenceError as exc:
        report.problems.append(f"{name}: {exc}")
    stamps = signed.get("timeSignatures") or ([{"authority": "", "timeSignature": signed["timeSignature"],
                                               "timestampCert": signed.get("timestampCert", "")}]
                                              if signed.get("timeSignature") else [])
    kept: list[Any] = []
    for stamp in stamps:
        try:
            certs = _pem_certificates(str(stamp.get("timestampCert", "")).encode(), name) \
                if stamp.get("timestampCert") else []
            kept += certs
            token = base64.b64decode(str(stamp.get("timeSignature", "")), validate=True)
            report.stamps.append(("datapackage-digest.json", check_token(
                token, str(signed.get("signature", "")).encode("ascii"), trusted, certs)))
        except (EvidenceError, ValueError) as exc:
            by = f" by {stamp['authority']}" if stamp.get("authority") else ""
            report.problems.append(f"{name}: timestamp of the signature{by}: {exc}")
    if not stamps:
        report.notes.append(f"{name}: the signature is not timestamped")
    return kept


# --- one article's certificate -----------------------------------------------------------------


def certificate(data_dir: Path, article_id: str, trusted: list[Any]) -> tuple[dict[str, Any], Report]:
    """The certificate of ARTICLE_ID's newest stored version in *data_dir*: what proves its capture;
    and the report of what was checked for it."""
    source = _DirSource(data_dir)
    newest: tuple[str, int, dict[str, Any]] | None = None
    for shard, lineno, record in _records(source):
        if record is not None and str(record.get("article_id")) == article_id and (
                newest is None or int(record.get("version") or 1) >= int(newest[2].get("version") or 1)):
            newest = (shard, lineno, record)
    if newest is None:
        raise EvidenceError(f"{display_path(data_dir)}: no article {article_id}")
    shard, lineno, record = newest
    where = f"{source.where(shard)}:{lineno} (article {article_id} version {record.get('version')})"
    return record_certificate(data_dir, record, where, trusted)


def record_certificate(data_dir: Path, record: dict[str, Any], where: str, trusted: list[Any]
                       ) -> tuple[dict[str, Any], Report]:
    """The certificate of one stored *record* of *data_dir* (its fields as the dataset holds them;
    *where* names it in a problem), and the report of what was checked for it."""
    return Certifier(data_dir, trusted).certificate(record, where)


class Certifier:
    """Certificates of records of one data dir.  Each WARC file is hashed once and each run manifest
    read and its timestamps checked once, however many records point into them (the offline edition's
    pages); ``browse`` makes one for each page it shows, so that what it shows is checked then."""

    def __init__(self, data_dir: Path, trusted: list[Any]) -> None:
        self.data_dir, self.trusted = data_dir, trusted
        self.source = _DirSource(data_dir)
        self._listed: dict[str, tuple[Path, dict[str, Any]]] | None = None
        self._digests: dict[str, tuple[int, str]] = {}
        self._stamps: dict[Path, tuple[list[Stamp], list[str], list[str]]] = {}

    def manifest_of(self, file: str) -> tuple[Path, dict[str, Any]] | None:
        """The first run manifest that lists WARC *file*, and its entry there."""
        if self._listed is None:
            self._listed = {}
            for manifest in manifests(self.data_dir):
                for entry in _safe_manifest(manifest).get("files", []):
                    self._listed.setdefault(str(entry.get("file")), (manifest, entry))
        return self._listed.get(file)

    def digest(self, file: str) -> tuple[int, str]:
        if file not in self._digests:
            with self.source.open(file) as handle:
                self._digests[file] = _file_sha256(handle)
        return self._digests[file]

    def stamps(self, manifest: Path) -> tuple[list[Stamp], list[str], list[str]]:
        """The manifest's timestamps that verify, the problems of the others, and notes."""
        if manifest not in self._stamps:
            stamps, problems, notes = [], [], []
            data = manifest.read_bytes()
            tokens = tokens_of(manifest)
            for token in tokens:
                try:
                    stamps.append(check_token(token.read_bytes(), data, self.trusted))
                except EvidenceError as exc:
                    problems.append(f"{display_path(token)}: timestamp of {manifest.name}: {exc}")
            if not tokens:
                notes.append(f"{display_path(manifest)}: not timestamped")
            self._stamps[manifest] = (stamps, problems, notes)
        return self._stamps[manifest]

    def certificate(self, record: dict[str, Any], where: str) -> tuple[dict[str, Any], Report]:
        """The certificate of one stored *record* (*where* names it in a problem) and what was checked."""
        source, report = self.source, Report()
        problems, payload = check_record(source, record, where)
        report.problems += problems
        report.records = 1
        pointer = record.get("warc") or {}
        file = str(pointer.get("file", ""))
        stamps: list[Stamp] = []
        confined = file.startswith(f"{WARC_DIR}/") and ".." not in file  # check_record says it when not
        listed = self.manifest_of(file) if pointer and confined else None
        if not pointer:
            report.problems.append(f"{where}: stored without its archived page")
        elif listed is None:
            report.notes.append(f"{source.where(file)}: in no run manifest: its capture time is not "
                                "timestamped")
        else:
            manifest, entry = listed
            report.files = 1
            if source.exists(file) and self.digest(file) != (entry.get("size"), entry.get("sha256")):
                report.problems.append(f"{source.where(file)}: changed since its manifest {manifest.name} "
                                       "was written")
            stamps, stamp_problems, notes = self.stamps(manifest)
            report.stamps += [(manifest.name, stamp) for stamp in stamps]
            report.problems += stamp_problems
            report.notes += notes
        fields = {
            "article": str(record.get("article_id")), "version": record.get("version"),
            "url": record.get("url"), "title": record.get("title"),
            "published": record.get("published_at") or record.get("published_date"),
            "captured": payload.date if payload else record.get("crawled_at"),
            "warc_file": file, "warc_offset": pointer.get("offset"), "record_id": pointer.get("record_id"),
            "payload_sha1": payload.warc_digest if payload else None,
            "payload_sha256": payload.sha256 if payload else None,
            "content_hash": record.get("content_hash"),
            "warc_sha256": listed[1].get("sha256") if listed else None,
            "manifest": f"{EVIDENCE_DIR}/{listed[0].name}" if listed else None,
            "timestamps": [{"authority": s.authority, "time": s.time, "digest": s.digest,
                            "trusted_by": s.trusted_by} for s in stamps],
            "signer": None,
            "verified": report.ok,
            "problems": report.problems,
        }
        return fields, report


def _safe_manifest(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        return _parse_manifest(path.read_bytes(), display_path(path))
    except (EvidenceError, OSError):
        return {}


#: the certificate's fields, in the order shown, with their labels
CERTIFICATE_LABELS = [
           ("url", "Live URL"), ("title", "Title"), ("article", "Article id"), ("version", "Version"),
           ("published", "Published"), ("captured", "Captured (WARC-Date)"), ("warc_file", "WARC file"),
           ("warc_offset", "Offset in the WARC file"), ("record_id", "WARC record id"),
           ("payload_sha1", "Payload digest (WARC, SHA-1)"), ("payload_sha256", "Payload digest (SHA-256)"),
           ("content_hash", "Content hash (title and body)"), ("warc_sha256", "WARC file SHA-256"),
           ("manifest", "Run manifest")]


def certificate_text(fields: dict[str, Any]) -> str:
    lines = [f"Certificate of capture: article {fields['article']}"]
    lines += [f"  {label}: {fields[name] if fields[name] is not None else '—'}"
              for name, label in CERTIFICATE_LABELS]
    for stamp in fields["timestamps"]:
        lines.append(f"  Timestamp: {stamp['time']} by {stamp['authority']} (of the run manifest; "
                     f"trusted by {stamp['trusted_by']})")
    if not fields["timestamps"]:
        lines.append("  Timestamp: none")
    lines.append(f"  Signer's key: {fields['signer'] or 'none (a data dir is not signed; a signed WACZ is)'}")
    lines.append("  Verified: " + ("yes" if fields["verified"] else "NO: " + "; ".join(fields["problems"])))
    return "\n".join(lines)


def certificate_html(fields: dict[str, Any]) -> str:
    """The certificate as one self-contained HTML page (no script, no outside resource), every value
    escaped."""
    e = html.escape
    shown = {name: "—" if fields[name] is None else str(fields[name]) for name, _ in CERTIFICATE_LABELS}
    rows = "".join(f"<tr><th>{e(label)}</th><td><code>{e(shown[name])}</code></td></tr>\n"
                   for name, label in CERTIFICATE_LABELS)
    rows += "".join(f"<tr><th>Timestamp</th><td>{e(s['time'])} by {e(s['authority'])} "
                    f"<small>(of the run manifest; trusted by {e(s['trusted_by'])})</small></td></tr>\n"
                    for s in fields["timestamps"]) or "<tr><th>Timestamp</th><td>none</td></tr>\n"
    signer = fields["signer"] or "none (a data dir is not signed)"
    rows += f"<tr><th>Signer's key</th><td>{e(signer)}</td></tr>\n"
    verdict = ("<p class=ok>Verified: the archived page, its WARC file and the run manifest are as they were "
               "when captured and timestamped.</p>" if fields["verified"] else
               "<p class=bad>NOT verified:</p><ul>" + "".join(f"<li>{e(p)}</li>" for p in fields["problems"])
               + "</ul>")
    return f"""<!DOCTYPE html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Certificate of capture: {e(str(fields['title'] or fields['article']))}</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem}}
th{{text-align:left;vertical-align:top;padding-right:1rem;white-space:nowrap}}td code{{word-break:break-all}}
.ok{{color:#075e07;font-weight:bold}}.bad{{color:#9b0000;font-weight:bold}}</style></head>
<body><h1>Certificate of capture</h1>
<p>Made by newsspider {e(__version__)} on {e(now_iso())}. Check it again with
<code>newsspider verify DATA_DIR {e(str(fields['article']))}</code>.</p>
<table>
{rows}</table>
{verdict}
</body></html>
"""
