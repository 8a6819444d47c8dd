"""The atomic writer: whole files only, modes as open() gives them, read-only files left alone,
outputs checked before the work, no temporaries left behind."""

import os
import stat
import time
from pathlib import Path

import pytest

from churn.errors import OutputError
from churn.files import STALE_TEMPORARY_SECONDS, atomic_path, check_writable, write_text_atomic


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Sets the process umask for one test and restores it."""
    previous = os.umask(0o022)
    yield lambda value: os.umask(value)
    os.umask(previous)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_new_file_gets_the_mode_open_would_give(tmp_path, umask, mask, expected):
    umask(mask)
    write_text_atomic(tmp_path / "predictions.csv", "a\n")
    assert mode_of(tmp_path / "predictions.csv") == expected


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    target = tmp_path / "customers.csv"
    target.write_text("old\n")
    target.chmod(0o600)
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n" and mode_of(target) == 0o600


@pytest.mark.parametrize("mode", [0o444, 0o400, 0o555])
def test_a_read_only_file_is_not_replaced(tmp_path, mode):
    # Checked from the mode bits: tests run as root here, whom permissions never stop.
    target = tmp_path / "predictions.csv"
    target.write_text("keep me\n")
    target.chmod(mode)
    with pytest.raises(OutputError, match=rf"^{target} is read-only; make it writable"):
        write_text_atomic(target, "new\n")
    assert target.read_text() == "keep me\n" and mode_of(target) == mode
    assert [path.name for path in tmp_path.iterdir()] == ["predictions.csv"]


def test_a_folder_in_place_of_the_file_is_refused(tmp_path):
    (tmp_path / "predictions.csv").mkdir()
    with pytest.raises(OutputError, match=rf"^{tmp_path / 'predictions.csv'} is a folder"):
        check_writable(tmp_path / "predictions.csv")


@pytest.mark.parametrize("below", ["predictions.csv", "data/predictions.csv"])
def test_a_file_in_place_of_a_folder_is_refused(tmp_path, below):
    (tmp_path / "blocker").write_text("a file, not a folder\n")
    target = tmp_path / "blocker" / below
    with pytest.raises(OutputError, match=rf"^cannot write {target}: {tmp_path / 'blocker'} is "
                                          "a file, not a folder$"):
        check_writable(target)
    with pytest.raises(OutputError):
        write_text_atomic(target, "new\n")
    assert (tmp_path / "blocker").read_text() == "a file, not a folder\n"


def test_missing_folders_are_fine_and_made_on_write(tmp_path):
    target = tmp_path / "a" / "b" / "out.csv"
    check_writable(target)
    assert not (tmp_path / "a").exists()
    write_text_atomic(target, "x\n")
    assert target.read_text() == "x\n"


def test_a_failed_block_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [path.name for path in tmp_path.iterdir()] == ["out.csv"]


def make_temporary(folder: Path, name: str, age_seconds: float) -> Path:
    path = folder / name
    path.write_text("left behind")
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def test_stale_temporaries_of_the_same_target_are_removed(tmp_path):
    stale = make_temporary(tmp_path, ".predictions.csv.k3j_x9a2.tmp", STALE_TEMPORARY_SECONDS + 60)
    # Another writer's temporary, being written now: must survive.
    fresh = make_temporary(tmp_path, ".predictions.csv.0a1b2c3d.tmp", 5)
    others = [make_temporary(tmp_path, name, STALE_TEMPORARY_SECONDS + 60)
              for name in (".customers.csv.k3j_x9a2.tmp", "predictions.csv.k3j_x9a2.tmp",
                           ".predictions.csv.k3j_x9a2.tmp.keep")]
    write_text_atomic(tmp_path / "predictions.csv", "x\n")
    assert not stale.exists()
    assert fresh.exists() and all(path.exists() for path in others)
