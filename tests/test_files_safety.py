"""``atomic_write`` never replaces what is not a regular file, follows links, cleans up the
temporaries of killed writers (and only those), and ``replaced_together`` replaces a group of
files together or not at all."""

import os
import subprocess
import sys
import threading
import time

import pytest

from scratchnn import _files
from scratchnn._files import atomic_write, remove_stale_temporaries, replaced_together


def temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def make_old(path, seconds=3600):
    then = time.time() - seconds
    os.utime(path, (then, then))


# -- item 1: links, devices, FIFOs -----------------------------------------------------------------
def test_a_symlink_is_followed_and_kept(tmp_path):
    target = tmp_path / "real.npz"
    target.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    with atomic_write(link) as fh:
        fh.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert temporaries(tmp_path) == []


def test_a_dangling_symlink_gets_its_target_created(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "sub" / "made.csv")
    with atomic_write(link) as fh:
        fh.write(b"x")
    assert link.is_symlink() and (tmp_path / "sub" / "made.csv").read_bytes() == b"x"


def test_a_character_device_is_written_into_not_replaced():
    before = os.stat(os.devnull)
    with atomic_write(os.devnull) as fh:
        fh.write(b"predictions\n")
    after = os.stat(os.devnull)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert not any(name.startswith(".null.") for name in os.listdir("/dev"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    with atomic_write(fifo) as fh:
        fh.write(b"through the pipe")
    reader.join(5)
    assert got == [b"through the pipe"]
    assert fifo.is_fifo() and temporaries(tmp_path) == []


def test_a_directory_is_refused_naming_the_path(tmp_path):
    folder = tmp_path / "model.npz"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=f"cannot write {folder}: Is a directory"):
        with atomic_write(folder) as fh:
            fh.write(b"x")
    assert folder.is_dir() and temporaries(tmp_path) == []


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as fh:
            fh.write(b"half")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old" and temporaries(tmp_path) == []


# -- item 2: temporaries of killed writers ---------------------------------------------------------
def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "model.npz"
    # A writer killed with -9 in the middle of a save: its temporary is full-size and unlocked.
    code = ("import os, sys\n"
            "from scratchnn._files import atomic_write\n"
            f"with atomic_write({str(target)!r}) as fh:\n"
            "    fh.write(b'x' * 100000); fh.flush(); print('ready', flush=True)\n"
            "    os.kill(os.getpid(), 9)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -9 and proc.stdout == "ready\n"
    [left] = temporaries(tmp_path)
    assert left.startswith(".model.npz.")
    make_old(tmp_path / left)
    with atomic_write(target) as fh:
        fh.write(b"new")
    assert temporaries(tmp_path) == [] and target.read_bytes() == b"new"


def test_only_stale_unlocked_temporaries_of_this_target_are_removed(tmp_path):
    target = tmp_path / "model.npz"
    names = {
        "stale": ".model.npz.0123456789ab.tmp",
        "young": ".model.npz.aaaaaaaaaaaa.tmp",        # a writer may not have locked it yet
        "other_target": ".curves.png.0123456789ab.tmp",
        "not_ours": ".model.npz.backup.tmp",
        "upper_hex": ".model.npz.0123456789AB.tmp",
    }
    for key, name in names.items():
        (tmp_path / name).write_bytes(b"x")
        if key != "young":
            make_old(tmp_path / name)
    assert remove_stale_temporaries(target) == 1
    assert not (tmp_path / names["stale"]).exists()
    assert all((tmp_path / n).exists() for k, n in names.items() if k != "stale")


@pytest.mark.skipif(_files.fcntl is None, reason="no flock here")
def test_a_temporary_held_by_a_live_writer_is_kept(tmp_path):
    target = tmp_path / "model.npz"
    with atomic_write(target) as fh:
        fh.write(b"slow save")
        [tmp] = temporaries(tmp_path)
        make_old(tmp_path / tmp)  # older than the threshold, but still locked
        assert remove_stale_temporaries(target) == 0
        assert (tmp_path / tmp).exists()
    assert target.read_bytes() == b"slow save" and temporaries(tmp_path) == []


def test_a_symlink_or_folder_with_a_temporary_name_is_left_alone(tmp_path):
    target = tmp_path / "model.npz"
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / ".model.npz.0123456789ab.tmp"
    link.symlink_to(victim)
    folder = tmp_path / ".model.npz.ba9876543210.tmp"
    folder.mkdir()
    os.utime(link, (0, 0), follow_symlinks=False)
    make_old(folder)
    assert remove_stale_temporaries(target) == 0
    assert link.is_symlink() and folder.is_dir() and victim.read_bytes() == b"keep"


# -- item 3: a group of files replaced together ----------------------------------------------------
def test_replaced_together_replaces_all_at_the_end(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"old a")
    with replaced_together():
        with atomic_write(a) as fh:
            fh.write(b"new a")
        assert a.read_bytes() == b"old a"  # not yet
        with atomic_write(b) as fh:
            fh.write(b"new b")
        assert not b.exists()
    assert a.read_bytes() == b"new a" and b.read_bytes() == b"new b"
    assert temporaries(tmp_path) == []


def test_replaced_together_replaces_none_on_an_error(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"old a")
    b.write_bytes(b"old b")
    with pytest.raises(OSError, match="No space left"):
        with replaced_together():
            with atomic_write(a) as fh:
                fh.write(b"new a")
            with atomic_write(b) as fh:
                raise OSError(28, "No space left on device")
    assert a.read_bytes() == b"old a" and b.read_bytes() == b"old b"
    assert temporaries(tmp_path) == []
