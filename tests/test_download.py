"""download_mnist against a local HTTP server on 127.0.0.1 serving generated IDX files."""

import gzip
import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from fixtures import idx_bytes, mnist_like

from scratchnn.datasets import (
    _MAX_DOWNLOAD_BYTES,
    MNIST_FILES,
    DownloadError,
    download_mnist,
    load_mnist,
)


def generated_files():
    files = {}
    for prefix, n, seed in (("train", 8, 0), ("t10k", 5, 1)):
        images, labels = mnist_like(n, seed=seed)
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images), mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels), mtime=0)
    return files


class LocalServer:
    """Serves ``files`` under /good/, the same with one file changed under /corrupt/, with one
    file cut short under /drop/, and never answers under /hang/. Hostile ones: /endless/ sends
    zeros forever without a Content-Length, /huge/ announces 10**12 bytes and sends zeros,
    /trickle/ sends the right file a byte every 0.1 s, /slowheaders/ its headers so."""

    def __init__(self):
        self.files = generated_files()
        self.checksums = {n: hashlib.md5(d).hexdigest() for n, d in self.files.items()}
        self.requests = []
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                server.requests.append(self.path)
                mode, _, name = self.path.strip("/").partition("/")
                data = server.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                if mode == "hang":
                    server.release.wait(10)
                    return
                if mode in ("endless", "huge", "trickle", "slowheaders"):
                    self.hostile(mode, data)
                    return
                if mode == "corrupt" and name == MNIST_FILES[2]:
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if mode == "drop" and name == MNIST_FILES[0]:
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def hostile(self, mode, data):
                try:
                    if mode == "slowheaders":
                        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                        while not server.release.wait(0.1):
                            self.wfile.write(b"a")
                            self.wfile.flush()
                        return
                    self.send_response(200)
                    if mode == "huge":
                        self.send_header("Content-Length", str(10**12))
                    if mode == "trickle":
                        self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if mode == "trickle":
                        for byte in data:
                            if server.release.wait(0.1):
                                return
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        return
                    block = bytes(1 << 16)
                    while not server.release.is_set():
                        self.wfile.write(block)
                except OSError:  # the client hung up: what a refusal looks like from here
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.close()


def cache_listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_downloads_verifies_and_loads(server, tmp_path):
    dest = tmp_path / "cache" / "mnist"
    out = download_mnist(dest, base_url=server.url + "/good/", checksums=server.checksums)
    assert out == dest
    assert cache_listing(dest) == sorted(MNIST_FILES)  # no temporary files left behind
    for name in MNIST_FILES:
        assert (dest / name).read_bytes() == server.files[name]
    (X_train, y_train), (X_test, y_test) = load_mnist(dest)
    assert X_train.shape == (8, 784) and X_test.shape == (5, 784)
    np.testing.assert_array_equal(y_test, mnist_like(5, seed=1)[1])


def test_second_call_uses_the_cache(server, tmp_path):
    download_mnist(tmp_path, base_url=server.url + "/good", checksums=server.checksums)
    assert len(server.requests) == 4
    download_mnist(tmp_path, base_url=server.url + "/good", checksums=server.checksums)
    assert len(server.requests) == 4


def test_a_corrupt_cached_file_is_fetched_again(server, tmp_path):
    download_mnist(tmp_path, base_url=server.url + "/good", checksums=server.checksums)
    (tmp_path / MNIST_FILES[1]).write_bytes(b"garbage")
    download_mnist(tmp_path, base_url=server.url + "/good", checksums=server.checksums)
    assert server.requests[4:] == ["/good/" + MNIST_FILES[1]]
    assert (tmp_path / MNIST_FILES[1]).read_bytes() == server.files[MNIST_FILES[1]]


def test_checksum_mismatch_leaves_nothing_of_that_file(server, tmp_path):
    bad = MNIST_FILES[2]
    with pytest.raises(DownloadError, match=rf"/corrupt/{bad} arrived with MD5 [0-9a-f]{{32}}, "
                                            r"not the published"):
        download_mnist(tmp_path, base_url=server.url + "/corrupt", checksums=server.checksums)
    # the two verified files before it stay; nothing of the corrupt one, no temporary file
    assert cache_listing(tmp_path) == sorted(MNIST_FILES[:2])


def test_connection_dropped_midway_leaves_no_partial_file(server, tmp_path):
    with pytest.raises(DownloadError, match=rf"{server.url}/drop/{MNIST_FILES[0]}") as info:
        download_mnist(tmp_path, base_url=server.url + "/drop", checksums=server.checksums)
    assert "copy them into" in str(info.value)
    assert cache_listing(tmp_path) == []


def test_http_error_names_the_url_and_status(server, tmp_path):
    checksums = dict(server.checksums)
    server.files.pop(MNIST_FILES[3])
    with pytest.raises(DownloadError, match=rf"/good/{MNIST_FILES[3]}: HTTP error 404"):
        download_mnist(tmp_path, base_url=server.url + "/good", checksums=checksums)
    assert cache_listing(tmp_path) == sorted(MNIST_FILES[:3])


def test_unreachable_server_fails_fast_with_instructions(tmp_path):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.perf_counter()
    with pytest.raises(DownloadError) as info:
        download_mnist(tmp_path / "d", base_url=f"http://127.0.0.1:{port}/mnist/")
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert f"http://127.0.0.1:{port}/mnist/{MNIST_FILES[0]}" in message
    assert "offline" in message and "copy them into" in message and "load_mnist(" in message
    assert cache_listing(tmp_path / "d") == []


def test_a_silent_server_times_out(server, tmp_path):
    start = time.perf_counter()
    with pytest.raises(DownloadError, match=rf"/hang/{MNIST_FILES[0]}.*timed out"):
        download_mnist(tmp_path, base_url=server.url + "/hang", checksums=server.checksums,
                       timeout=0.3)
    assert time.perf_counter() - start < 5
    assert cache_listing(tmp_path) == []


def test_bad_arguments(tmp_path, server):
    with pytest.raises(ValueError, match="dataset must be one of 'mnist'"):
        download_mnist(tmp_path, dataset="cifar")
    with pytest.raises(ValueError, match="no MD5 for t10k-labels-idx1-ubyte.gz"):
        download_mnist(tmp_path, checksums={n: "0" * 32 for n in MNIST_FILES[:3]})
    with pytest.raises(ValueError, match="32 hex digits"):
        download_mnist(tmp_path, checksums=dict.fromkeys(MNIST_FILES, "abc"))
    with pytest.raises(ValueError, match="base_url must be an http"):
        download_mnist(tmp_path, base_url="ftp://example.org/")
    with pytest.raises(ValueError, match="timeout must be a positive"):
        download_mnist(tmp_path, timeout=0)
    with pytest.raises(TypeError, match="dest must be"):
        download_mnist(None)
    assert server.requests == []


# -- hostile servers (issue 13, item 6) and killed downloads (item 2) ------------------------------
def test_an_endless_body_is_cut_at_the_most_the_file_can_be(server, tmp_path):
    cap = _MAX_DOWNLOAD_BYTES[MNIST_FILES[0]]
    start = time.perf_counter()
    with pytest.raises(DownloadError, match=rf"/endless/{MNIST_FILES[0]} sent more than {cap} "
                                            "bytes.*nothing was kept"):
        download_mnist(tmp_path, base_url=server.url + "/endless", checksums=server.checksums)
    assert time.perf_counter() - start < 10
    assert cache_listing(tmp_path) == []


def test_a_huge_content_length_is_refused_before_reading(server, tmp_path):
    with pytest.raises(DownloadError, match=r"announces 1000000000000 bytes, but that file is at "
                                            rf"most {_MAX_DOWNLOAD_BYTES[MNIST_FILES[0]]} bytes"):
        download_mnist(tmp_path, base_url=server.url + "/huge", checksums=server.checksums)
    assert cache_listing(tmp_path) == []


@pytest.mark.parametrize("mode", ["trickle", "slowheaders"])
def test_the_timeout_is_a_deadline_for_the_whole_file(server, tmp_path, mode):
    # A byte every 0.1 s never lets one read wait 1 s, but the file cannot take longer than 1 s.
    start = time.perf_counter()
    with pytest.raises(DownloadError, match=rf"/{mode}/{MNIST_FILES[0]}: timed out \(the file "
                                            r"did not arrive within 1 s"):
        download_mnist(tmp_path, base_url=f"{server.url}/{mode}", checksums=server.checksums,
                       timeout=1)
    assert 0.9 < time.perf_counter() - start < 3
    assert cache_listing(tmp_path) == []


def test_the_caps_fit_the_published_files():
    # The published sizes (MNIST, Fashion-MNIST, KMNIST): the largest of each file must pass.
    largest = dict(zip(MNIST_FILES, (26_421_880, 29_515, 4_422_102, 5_148), strict=True))
    for name, size in largest.items():
        assert size < _MAX_DOWNLOAD_BYTES[name] < 2 * size + (1 << 20)


def test_stale_part_files_are_removed_but_a_running_download_s_is_kept(server, tmp_path):
    fcntl = pytest.importorskip("fcntl")  # where there is no flock, nothing is removed
    stale = tmp_path / f".{MNIST_FILES[0]}.k1ll3d_x.part"
    stale.write_bytes(b"\0" * 1000)
    running = tmp_path / f".{MNIST_FILES[1]}.runn1ng_.part"
    running.write_bytes(b"\0" * 10)
    foreign = tmp_path / ".notes.part"  # not a name of ours: never touched
    foreign.write_bytes(b"mine")
    with open(running, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as the download writing it holds it
        download_mnist(tmp_path, base_url=server.url + "/good", checksums=server.checksums)
        assert cache_listing(tmp_path) == sorted([*MNIST_FILES, running.name, foreign.name])


_DOWNLOAD_AND_WAIT = """
import sys
from scratchnn.datasets import download_mnist
download_mnist(sys.argv[1], base_url=sys.argv[2], checksums=dict(zip(sys.argv[3::2],
               sys.argv[4::2])), timeout=60)
"""


def test_a_download_killed_with_sigkill_leaves_a_part_the_next_one_removes(server, tmp_path):
    args = [a for item in server.checksums.items() for a in item]
    child = subprocess.Popen([sys.executable, "-c", _DOWNLOAD_AND_WAIT, str(tmp_path),
                              server.url + "/trickle", *args])
    try:
        deadline = time.monotonic() + 20
        while not any(p.name.endswith(".part") for p in tmp_path.iterdir()):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        time.sleep(0.3)  # some bytes on their way
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    left = cache_listing(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".{MNIST_FILES[0]}.")
    download_mnist(tmp_path, base_url=server.url + "/good", checksums=server.checksums)
    assert cache_listing(tmp_path) == sorted(MNIST_FILES)
