"""Evidence (newsspider.archive.evidence): run manifests, RFC 3161 timestamps, the signed WACZ, verify.

One crawl of the mock site for the module, with two timestamp authorities (real ``openssl ts -reply``
processes behind HTTP, each with its own CA, made by :mod:`tests.tsa`) and a third that is down.
Tampering is done on copies; ``openssl ts -verify`` and py-wacz's validation check independently.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newsspider.archive.evidence import (
    certificate,
    certificate_html,
    check_token,
    load_trusted,
    manifests,
    tokens_of,
    verify_data_dir,
    verify_wacz,
)
from tests.conftest import FAST, run_cli
from tests.mockserver import MockServer
from tests.tsa import Authority, down_url

pytestmark = pytest.mark.xdist_group("evidence")

PASSWORD = "correct horse battery staple"


class Setup:
    """The module's crawl: its data dir, the authorities, a key, a signed WACZ."""

    def __init__(self, root: Path, trusted: Authority, other: Authority, down: str) -> None:
        self.root, self.trusted, self.other, self.down = root, trusted, other, down
        self.data = root / "data"
        self.key = root / "key.pem"
        self.wacz = root / "signed.wacz"
        self.crawl: subprocess.CompletedProcess[str] | None = None
        self.packed: subprocess.CompletedProcess[str] | None = None


@pytest.fixture(scope="module")
def setup(_module_server: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("evidence")
    with Authority("Trusted TSA") as trusted, Authority("Other TSA") as other:
        s = Setup(root, trusted, other, down_url())
        s.crawl = run_cli("crawl", "--start-url", _module_server.url("/bnews/"), "--data-dir", str(s.data),
                          *FAST, "-s", "NEWSSPIDER_MAX_LISTING_PAGES=1",
                          "-s", "NEWSSPIDER_WARC_MAX_SIZE=65536",
                          "--timestamp", trusted.url, "--timestamp", s.down)
        assert run_cli("key", "new", str(s.key)).returncode == 0
        s.packed = run_cli("dataset", "wacz", str(s.data), "--out", str(s.wacz), "--sign", str(s.key),
                           "--timestamp", trusted.url, "--timestamp", other.url)
        yield s


def trusted_certs(s: Setup) -> list[Any]:
    return load_trusted([s.trusted.ca])


def copy_dir(s: Setup, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(s.data, out)
    return out


def rewrite_zip(source: Path, out: Path, name: str, change: Callable[[bytes], bytes]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            new.writestr(info, change(data) if info.filename == name else data)


def flip(data: bytes, at: int | None = None) -> bytes:
    at = len(data) // 2 if at is None else at
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


# --- 1. manifests and timestamps from the crawl ------------------------------------------------


def test_the_crawl_keeps_a_manifest_of_its_warc_files_and_warns_once_of_an_authority_down(
        setup: Setup) -> None:
    result = setup.crawl
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if setup.down in line]
    assert len(warnings) == 1 and "cannot be reached" in warnings[0] and "dataset timestamp" in warnings[0]
    [manifest] = manifests(setup.data)
    content = json.loads(manifest.read_text())
    warcs = sorted((setup.data / "warc").glob("*.warc.gz"))
    assert len(warcs) > 1  # rotated at 64 KiB: every file closed is in the manifest
    assert [e["file"] for e in content["files"]] == [f"warc/{p.name}" for p in warcs]
    import hashlib

    for entry, path in zip(content["files"], warcs, strict=True):
        assert entry["size"] == path.stat().st_size
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["first_capture"] <= entry["last_capture"] and entry["records"] > 0
    assert [t.name.split(".json.")[1] for t in tokens_of(manifest)] == [
        setup.trusted.url.split("//")[1].split("/")[0].replace(":", "-") + ".tsr"]


def openssl_verifies(token: Path, data: Path, ca: Path) -> bool:
    done = subprocess.run(["openssl", "ts", "-verify", "-in", str(token), "-data", str(data),
                           "-CAfile", str(ca)], capture_output=True, text=True, check=False)
    return done.returncode == 0 and "Verification: OK" in done.stdout


def test_openssl_accepts_each_token_of_the_manifest(setup: Setup) -> None:
    [manifest] = manifests(setup.data)
    [token] = tokens_of(manifest)
    assert openssl_verifies(token, manifest, setup.trusted.ca)
    assert not openssl_verifies(token, manifest, setup.other.ca)


def test_a_manifest_is_timestamped_later_by_another_authority(setup: Setup, tmp_path: Path) -> None:
    data = copy_dir(setup, tmp_path)
    result = run_cli("dataset", "timestamp", str(data), "--timestamp", setup.other.url,
                     "--timestamp", setup.trusted.url)
    assert result.returncode == 0, result.stderr
    assert "1 timestamps added to 1 run manifests" in result.stdout  # the trusted one had its token
    [manifest] = manifests(data)
    assert len(tokens_of(manifest)) == 2
    assert all(openssl_verifies(t, manifest, ca) for t, ca in zip(tokens_of(manifest),
               sorted([setup.trusted.ca, setup.other.ca], key=lambda p: str(p)), strict=False)) or all(
        openssl_verifies(t, manifest, setup.other.ca) or openssl_verifies(t, manifest, setup.trusted.ca)
        for t in tokens_of(manifest))


# --- 2. the signed WACZ ------------------------------------------------------------------------


def test_the_signed_wacz_passes_the_wacz_packages_validation(setup: Setup) -> None:
    assert setup.packed.returncode == 0, setup.packed.stderr
    assert "signed and timestamped" in setup.packed.stdout
    from wacz.main import main as wacz_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = wacz_main(["validate", "-f", str(setup.wacz)])
    assert code == 0, out.getvalue()
    with zipfile.ZipFile(setup.wacz) as archive:
        digest = json.loads(archive.read("datapackage-digest.json"))
        names = archive.namelist()
    signed = digest["signedData"]
    assert signed["hash"] == digest["hash"] and signed["publicKey"] and signed["signature"]
    assert len(signed["timeSignatures"]) == 2
    assert signed["timeSignature"] == signed["timeSignatures"][0]["timeSignature"]
    assert any(n.startswith("evidence/run-") and n.endswith(".tsr") for n in names)
    assert "dataset/articles.jsonl" in names


def test_openssl_accepts_the_signatures_timestamps(setup: Setup, tmp_path: Path) -> None:
    with zipfile.ZipFile(setup.wacz) as archive:
        signed = json.loads(archive.read("datapackage-digest.json"))["signedData"]
    (tmp_path / "signature").write_text(signed["signature"])
    for stamp, ca in zip(signed["timeSignatures"], [setup.trusted.ca, setup.other.ca], strict=True):
        (tmp_path / "t.tsr").write_bytes(base64.b64decode(stamp["timeSignature"]))
        assert openssl_verifies(tmp_path / "t.tsr", tmp_path / "signature", ca)


def test_verify_passes_the_untouched_archive(setup: Setup) -> None:
    result = run_cli("verify", str(setup.wacz), "--tsa-cert", str(setup.trusted.ca), "--tsa-cert",
                     str(setup.other.ca))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"{setup.wacz}: verified: ")
    assert "the signature of sha256:" in result.stdout and "3 timestamps" in result.stdout
    result = run_cli("verify", str(setup.data), "--tsa-cert", str(setup.trusted.ca))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 timestamp" in result.stdout


# --- 3. tampering: each one fails, naming what changed -----------------------------------------


def problems_of_wacz(setup: Setup, tmp_path: Path, name: str, change: Callable[[bytes], bytes],
                     trusted: list[Any] | None = None) -> list[str]:
    out = tmp_path / "tampered.wacz"
    rewrite_zip(setup.wacz, out, name, change)
    return verify_wacz(out, trusted_certs(setup) + load_trusted([setup.other.ca]) if trusted is None
                       else trusted).problems


def test_one_byte_of_a_warc_inside_the_wacz(setup: Setup, tmp_path: Path) -> None:
    with zipfile.ZipFile(setup.wacz) as archive:
        warc = next(n for n in archive.namelist() if n.startswith("archive/"))
    problems = problems_of_wacz(setup, tmp_path, warc, flip)
    assert any(p.endswith(f"{warc}: changed (its sha256 is not the one datapackage.json lists)")
               for p in problems)
    assert any(f"{warc}: changed since its manifest" in p for p in problems)


def test_datapackage_json_changed(setup: Setup, tmp_path: Path) -> None:
    problems = problems_of_wacz(setup, tmp_path, "datapackage.json",
                                lambda d: d.replace(b'"title"', b'"title" ', 1))
    assert problems == [f"{tmp_path / 'tampered.wacz'}:datapackage.json: changed (its hash is not the one "
                        "datapackage-digest.json holds)"]


def resign(setup: Setup, tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    out = tmp_path / "resigned.wacz"

    def edit(data: bytes) -> bytes:
        digest = json.loads(data)
        change(digest["signedData"])
        return json.dumps(digest).encode()

    rewrite_zip(setup.wacz, out, "datapackage-digest.json", edit)
    return out


def test_a_signature_from_another_key(setup: Setup, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1())

    def sign_with_other(signed: dict[str, Any]) -> None:
        signature = other.sign(signed["hash"].encode(), ec.ECDSA(hashes.SHA256()))
        signed["signature"] = base64.b64encode(signature).decode()

    problems = verify_wacz(resign(setup, tmp_path, sign_with_other), trusted_certs(setup)).problems
    assert any("datapackage-digest.json: the signature does not verify with its public key" in p
               for p in problems)


def test_a_token_from_an_authority_not_trusted(setup: Setup, tmp_path: Path) -> None:
    [manifest] = manifests(setup.data)
    data = copy_dir(setup, tmp_path)
    result = run_cli("dataset", "timestamp", str(data), "--timestamp", setup.other.url)
    assert result.returncode == 0
    problems = verify_data_dir(data, trusted_certs(setup)).problems
    assert len(problems) == 1 and "127.0.0.1-" in problems[0] and problems[0].endswith(
        f"timestamp of {manifest.name}: not signed by a trusted authority (--tsa-cert)")
    # the WACZ: the signature's timestamp by the other authority, trusted only the first
    problems = verify_wacz(setup.wacz, trusted_certs(setup)).problems
    assert problems == [f"{setup.wacz}:datapackage-digest.json: timestamp of the signature by "
                        f"{setup.other.url}: not signed by a trusted authority (--tsa-cert)"]


def test_a_token_for_another_digest(setup: Setup, tmp_path: Path) -> None:
    data = copy_dir(setup, tmp_path)
    [manifest] = manifests(data)
    [token] = tokens_of(manifest)
    manifest.write_bytes(manifest.read_bytes().replace(b'"worker"', b'"worker" ', 1))
    problems = verify_data_dir(data, trusted_certs(setup)).problems
    assert len(problems) == 1
    assert f"{token.name}: timestamp of {manifest.name}: covers another digest" in problems[0]
    with pytest.raises(Exception, match="covers another digest"):
        check_token(token.read_bytes(), b"something else", trusted_certs(setup))


def test_a_warc_file_changed_after_its_manifest(setup: Setup, tmp_path: Path) -> None:
    data = copy_dir(setup, tmp_path)
    warc = sorted((data / "warc").glob("*.warc.gz"))[-1]
    warc.write_bytes(flip(warc.read_bytes(), 10))
    result = run_cli("verify", str(data), "--tsa-cert", str(setup.trusted.ca))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{warc}: changed since its manifest evidence/run-00001.json was written "
                               "(content:")
    assert lines[-1] == f"{data}: 1 problem found; checked " + lines[-1].split("checked ", 1)[1]
    assert "Traceback" not in result.stderr


def test_a_records_content_hash_or_warc_offset(setup: Setup, tmp_path: Path) -> None:
    data = copy_dir(setup, tmp_path)
    shard = data / "articles.jsonl"
    lines = shard.read_text("utf-8").splitlines(keepends=True)
    first, second = json.loads(lines[0]), json.loads(lines[1])
    first["content_hash"] = "sha256:" + "0" * 64
    second["warc"]["offset"] += 1
    lines[0], lines[1] = (json.dumps(r, ensure_ascii=False) + "\n" for r in (first, second))
    shard.write_text("".join(lines), "utf-8")
    problems = verify_data_dir(data, trusted_certs(setup)).problems
    assert problems[0] == (f"{shard}:1 (article {first['article_id']} version 1): content_hash is not the "
                           "hash of its title and body")
    assert problems[1].startswith(f"{shard}:2 (article {second['article_id']} version 1): its WARC pointer ")
    assert "is not at a response record" in problems[1]
    assert len(problems) == 2


# --- the certificate of one article ------------------------------------------------------------


def test_one_articles_certificate_as_text_and_html(setup: Setup, tmp_path: Path) -> None:
    record = json.loads((setup.data / "articles.jsonl").read_text("utf-8").splitlines()[0])
    page = tmp_path / "cert.html"
    result = run_cli("verify", str(setup.data), record["article_id"], "--tsa-cert", str(setup.trusted.ca),
                     "--html", str(page))
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    for value in (record["url"], record["title"], record["warc"]["record_id"], record["warc"]["file"],
                  "Payload digest (SHA-256): sha256:", "by Trusted TSA", "Verified: yes"):
        assert value in text
    html_page = page.read_text("utf-8")
    assert record["title"] in html_page and "<script" not in html_page and "Verified" in html_page
    # hostile text in a record is escaped (and the changed record fails)
    data = copy_dir(setup, tmp_path)
    shard = data / "articles.jsonl"
    lines = shard.read_text("utf-8").splitlines(keepends=True)
    hostile = {**record, "title": "<script>alert(1)</script>"}
    shard.write_text(json.dumps(hostile, ensure_ascii=False) + "\n" + "".join(lines[1:]), "utf-8")
    fields, report = certificate(data, record["article_id"], trusted_certs(setup))
    assert not report.ok and "content_hash" in report.problems[0]
    page_text = certificate_html(fields)
    assert "<script>" not in page_text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page_text


# --- bad input: one line each, no traceback, no password shown ---------------------------------


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_bad_keys(setup: Setup, tmp_path: Path) -> None:
    out = str(tmp_path / "x.wacz")
    missing = one_line_error(run_cli("dataset", "wacz", str(setup.data), "--out", out, "--sign",
                                     str(tmp_path / "none.pem")))
    assert missing == f"Error: --sign {tmp_path / 'none.pem'}: cannot be read (No such file or directory)"
    (tmp_path / "bad.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    assert one_line_error(run_cli("dataset", "wacz", str(setup.data), "--out", out, "--sign",
                                  str(tmp_path / "bad.pem"))).endswith("not a readable PEM private key")
    encrypted = tmp_path / "enc.pem"
    import os

    env = {**os.environ, "NEWSSPIDER_KEY_PASSWORD": PASSWORD}
    made = run_cli("key", "new", "--encrypt", str(encrypted), env=env)
    assert made.returncode == 0 and PASSWORD not in made.stdout + made.stderr
    assert b"ENCRYPTED PRIVATE KEY" in encrypted.read_bytes() and oct(encrypted.stat().st_mode)[-3:] == "600"
    wrong = run_cli("dataset", "wacz", str(setup.data), "--out", out, "--sign", str(encrypted),
                    env={**env, "NEWSSPIDER_KEY_PASSWORD": "wrong " + PASSWORD})
    assert one_line_error(wrong).endswith("wrong password for the encrypted key")
    assert PASSWORD not in wrong.stdout + wrong.stderr
    no_password = run_cli("dataset", "wacz", str(setup.data), "--out", out, "--sign", str(encrypted),
                          env={k: v for k, v in env.items() if k != "NEWSSPIDER_KEY_PASSWORD"})
    assert "the key is encrypted: set NEWSSPIDER_KEY_PASSWORD" in one_line_error(no_password)
    good = run_cli("dataset", "wacz", str(setup.data), "--out", out, "--sign", str(encrypted), env=env)
    assert good.returncode == 0 and PASSWORD not in good.stdout + good.stderr
    assert run_cli("verify", out).returncode == 0


def test_authorities_that_answer_garbage_or_nothing(setup: Setup, tmp_path: Path) -> None:
    data = copy_dir(setup, tmp_path)
    with Authority("Garbage", mode="garbage") as garbage, Authority("Stall", mode="stall") as stall:
        result = run_cli("dataset", "timestamp", str(data), "--timestamp", garbage.url,
                         "--timestamp", stall.url, "--timeout", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(f"timestamp authority {garbage.url}: answered something that is not an RFC 3161 "
                             "timestamp response")
    assert lines[1].endswith((f"timestamp authority {stall.url}: no answer within 1 s",
                              f"timestamp authority {stall.url}: cannot be reached (no answer within the "
                              "timeout)"))


def test_a_wacz_that_is_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "not.wacz"
    bad.write_text("hello")
    assert one_line_error(run_cli("verify", str(bad))) == f"Error: {bad}: not a WACZ (not a zip file)"


def test_the_reading_room_shows_an_articles_certificate_and_whether_it_verifies(setup: Setup,
                                                                                 tmp_path: Path) -> None:
    """browse: the article page links "Verify this capture"; the certificate page checks the capture now,
    as ``newsspider verify`` does, and says so; a WARC file changed since its manifest is not verified."""
    from tests.test_browse import _get, start_browse

    data = copy_dir(setup, tmp_path)
    record = json.loads((data / "articles.jsonl").read_text("utf-8").splitlines()[0])
    article_id = record["article_id"]
    process, port = start_browse(data)
    try:
        base = f"http://127.0.0.1:{port}/-/newsspider"
        status, page = _get(f"{base}/article/{article_id}")
        assert status == 200 and f'href="/-/newsspider/certificate/{article_id}"' in page.decode()
        status, body = _get(f"{base}/certificate/{article_id}")
        text = body.decode()
        assert status == 200 and "Verified: the archived page" in text, text
        assert html.escape(record["warc"]["record_id"]) in text and record["content_hash"] in text
        assert "Trusted TSA" in text or setup.trusted.url in text  # the timestamp of its run manifest
        warc = data / record["warc"]["file"]
        warc.write_bytes(flip(warc.read_bytes(), 10))
        status, body = _get(f"{base}/certificate/{article_id}")
        text = body.decode()
        assert status == 200 and "Not verified" in text and "changed since its manifest" in text, text
        assert _get(f"{base}/certificate/999999999")[0] == 404
    finally:
        process.terminate()
        process.wait(30)
