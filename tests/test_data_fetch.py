"""CIFAR-10 is fetched once, atomically, before any kernel starts: two processes that start at once
with no archive download it once from a local file server (an archive in the official format,
its md5 put in place of the official one), a download whose md5 is wrong leaves nothing behind,
and the build's first line says which data each chapter will use."""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from coursebook.book import cli, paths
from coursebook.course import data
from tests.conftest import PROJECT
from tests.test_data import official_batches, write_archive

# One process's view: the origin and md5 put in place of the official ones (the loader's default
# too), then what a build does before its kernels start (registration.prepare_data: download, then
# decode into the dataset cache), then the archive and the cached arrays a kernel's loader finds.
FETCHER = """
import sys
from coursebook.course.data import cifar10
cifar10.ORIGIN, cifar10.OFFICIAL_MD5 = sys.argv[1], sys.argv[2]
cifar10.load_cifar10.__kwdefaults__["expected_md5"] = sys.argv[2]
from coursebook.course import registration
registration.prepare_data([{"data": "auto"}, {"data": "auto"}, {}])
print(cifar10.find_cifar10())
"""


class _Server:
    """A file server on 127.0.0.1 that sends ``body`` slowly (so a second process starts while the
    first is still downloading) and counts the requests."""

    def __init__(self, body: bytes, chunks: int = 10, pause: float = 0.1):
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # the name http.server calls
                server.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                step = -(-len(body) // chunks)
                for start in range(0, len(body), step):
                    self.wfile.write(body[start : start + step])
                    self.wfile.flush()
                    time.sleep(pause)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/cifar-10-python.tar.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path):
    archive = write_archive(tmp_path / "served" / "cifar-10-python.tar.gz", official_batches(seed=5))
    server = _Server(archive.read_bytes())
    yield server, archive
    server.close()


def _fetcher(root: Path, url: str, md5: str) -> subprocess.Popen:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(PROJECT),
        "COURSEBOOK_ROOT": str(root),
        "KERAS_HOME": str(root / "keras-home"),
        "COURSEBOOK_CACHE": str(root / "cache"),
    }
    return subprocess.Popen(
        [sys.executable, "-c", FETCHER, url, md5], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_two_processes_that_start_at_once_download_once(tmp_path, served):
    server, archive = served
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    root = tmp_path / "project"
    first, second = (_fetcher(root, server.url, md5) for _ in range(2))
    outputs = [process.communicate(timeout=120) for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    landed = root / "data" / "cifar-10-python.tar.gz"
    assert [out.strip() for out, _ in outputs] == [str(landed)] * 2
    assert server.requests == 1
    assert landed.read_bytes() == archive.read_bytes()
    assert sorted(p.name for p in landed.parent.iterdir()) == [".cifar-10-python.tar.gz.lock", landed.name]
    assert list((root / "cache").rglob("x_train.npy")), "the build decoded the archive into the dataset cache"
    ds = data.load_cifar10(dirs=[landed.parent], cache_dir=tmp_path / "cache", expected_md5=md5)
    assert len(ds.x_train) == len(
        data.load_cifar10(dirs=[archive.parent], cache_dir=tmp_path / "c2", expected_md5=md5).x_train
    )


def test_a_download_with_another_md5_leaves_nothing(tmp_path, served):
    server, archive = served
    wrong = hashlib.md5(b"something else").hexdigest()
    root = tmp_path / "project"
    process = _fetcher(root, server.url, wrong)
    _out, err = process.communicate(timeout=120)
    assert process.returncode != 0
    last = err.strip().splitlines()[-1]
    actual = hashlib.md5(archive.read_bytes()).hexdigest()
    assert (
        f"Downloading {server.url} to {root / 'data' / 'cifar-10-python.tar.gz'} failed "
        f"(the download has md5 {actual}, expected {wrong}" in last
    )
    assert [p.name for p in (root / "data").iterdir()] == [
        ".cifar-10-python.tar.gz.lock"
    ]  # no archive, no temporary file


def test_nothing_is_downloaded_when_the_archive_is_there(tmp_path, served, monkeypatch):
    server, archive = served
    monkeypatch.setenv(data.DATA_ENV, str(archive.parent))
    monkeypatch.setattr(paths, "DATA_DIR", tmp_path / "root" / "data")
    assert data.sources.fetch(["auto", "cifar10"]) is None
    assert data.sources.fetch(["synthetic"]) is None
    assert server.requests == 0 and not (tmp_path / "root" / "data").exists()


def test_the_first_line_says_which_data_each_chapter_uses(tmp_path, monkeypatch):
    monkeypatch.setattr(data.cifar10, "network_reachable", lambda *a, **k: False)
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(paths, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    synthetic = data.synthetic_fingerprint()
    plans = [
        SimpleNamespace(chapter_id=name, data_fingerprint=fingerprint)
        for name, fingerprint in [("a", synthetic), ("b", "none"), ("c", synthetic), ("d", synthetic), ("e", synthetic)]
    ]
    assert cli.data_line(plans) == (
        "data: the synthetic stand-in (no CIFAR-10 on disk, its download unreachable) for 4 chapters; no data for b"
    )
    write_archive(tmp_path / "data" / "cifar-10-python.tar.gz", official_batches())
    plans = [
        SimpleNamespace(chapter_id=name, data_fingerprint=fingerprint)
        for name, fingerprint in [("a", synthetic), ("b", data.OFFICIAL_MD5), ("c", data.OFFICIAL_MD5)]
    ]
    assert cli.data_line(plans) == (
        "data: CIFAR-10 (data/cifar-10-python.tar.gz) for b, c; the synthetic stand-in (asked for) for a"
    )
