"""Writing the files others read: whole files only, with predictable modes, never over a read-only one.

The policy, the same for every file a job writes (customers, predictions, models/latest,
metrics exports, reports):

- A new file gets mode 0o666 less the process umask, as open() would give it (0644 under the
  usual umask 022); a file that is replaced keeps its mode, so a `chmod 600` on a file of
  personal data survives the next run. Compose's bootstrap and api share the volumes and run as
  the same uid, so they read each other's files whatever the mode.
- A target that exists but is read-only is refused: a read-only file is its owner's way of saying
  "don't touch". Judged from the mode bits as well as os.access, because root (tests, some
  containers) is never refused by permissions and a rename does not need them anyway.
- `check_writable` lets a job test where its output goes before it does the work.
"""

import hashlib
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from churn.errors import OutputError

# Temporaries this old are left by a killed writer: a live one keeps its mtime fresh, since it is
# written as it goes (a 1M-row batch takes about a minute). Only age tells them apart: a
# "started before this process" rule would delete a concurrent writer's temporary mid-write.
STALE_TEMPORARY_SECONDS = 3600
# The random part of a temporary's name: token_hex here, tempfile.mkstemp's alphabet before.
TEMPORARY_TOKEN = re.compile(r"[a-z0-9_]+")


def _read_only(path: Path) -> bool:
    """True for an existing file nobody may write, or that this process may not write."""
    return not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(
        path, os.W_OK)


def check_writable(target: Path) -> None:
    """Raises OutputError unless `target` can be written (or replaced) by atomic_path; no side effects.

    Missing folders are fine (they are made on write) as long as the nearest existing one is a
    folder this process may write in.
    """
    if target.is_dir():
        raise OutputError(f"{target} is a folder; give the path of a file to write")
    if target.exists() and _read_only(target):
        raise OutputError(f"{target} is read-only; make it writable (chmod u+w) or write elsewhere")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {target}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {target}: the folder {folder} is not writable")


def remove_stale(folder: Path, is_temporary: Callable[[str], bool]) -> None:
    """Deletes the temporaries (files or folders) a killed writer left in `folder`: names that
    `is_temporary` accepts, unchanged for STALE_TEMPORARY_SECONDS. Best effort."""
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    for path in folder.iterdir():
        if not is_temporary(path.name):
            continue
        try:
            if path.lstat().st_mtime >= cutoff:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            pass  # gone already, or not ours to delete: the new file is what matters


def _temporary_of(target: Path) -> Callable[[str], bool]:
    prefix, suffix = f".{target.name}.", ".tmp"
    return lambda name: (name.startswith(prefix) and name.endswith(suffix)
                         and bool(TEMPORARY_TOKEN.fullmatch(name[len(prefix):-len(suffix)])))


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yields a temporary path beside `target`; renames it into place only if the block succeeds.

    Raises OutputError (before the block runs) when `target` cannot or may not be written.
    """
    check_writable(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target.parent, _temporary_of(target))
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        # Created as open() creates files, so the umask decides the mode (mkstemp's is 0600).
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror}") from None
    try:
        yield tmp
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
