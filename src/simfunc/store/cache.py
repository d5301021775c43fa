"""The artifact cache: directories of files keyed by a hash of the configuration that made them.

Layout under ``root``::

    <namespace>/<key>/            a committed entry: the job's files plus manifest.json
    <namespace>/<key>.partial/    the staging directory a job writes into; it survives
                                  interruptions, so a long job can checkpoint there and resume
    .locks/<namespace>/<key>.lock one lock file per key (fcntl), so two runners never compute
                                  the same entry at the same time
    .logs/<namespace>/<key>.log   what the job logged (kept after failures, for debugging)
    .corrupt/<namespace>/...      entries that failed verification, when ``keep_corrupt=True``

An entry is *complete* iff its ``manifest.json`` exists and every file it lists has the listed
size and sha256. The manifest is written last (atomically) and the staging directory is then
renamed onto the final path (an atomic rename), so a reader never sees half an entry. The
manifest also records the function and configuration that produced the entry, the simfunc
version, the format version and the creation time.

``lookup(..., verify=True)`` re-hashes every file. A missing or unreadable manifest, a missing
file, a wrong size or a wrong checksum is logged as a warning naming the entry and the problem;
the entry is moved out of the way (deleted, or quarantined under ``.corrupt/``) and ``None`` is
returned so that the caller recomputes it. A corrupted artifact is never loaded. Entries that
verified once are remembered for the life of the process together with the size, inode and
modification/change times of their files; they are re-hashed only when one of those changes.

Job code writes every file with the helpers of :mod:`simfunc.io.atomic`; leftovers of an
interrupted atomic write are deleted when the staging directory is prepared and at commit.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from simfunc.errors import InputError
from simfunc.io.atomic import atomic_write_json, fsync_directory, is_temp_file
from simfunc.io.hashing import FORMAT_VERSION, normalize_config
from simfunc.io.loaders import load_artifact

__all__ = ["Cache", "MANIFEST_NAME", "STAGING_SUFFIX", "check_name"]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
STAGING_SUFFIX = ".partial"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

# entry path -> fingerprint (stat of manifest and files) at the time it last verified
_verified: dict[str, tuple] = {}
_verified_lock = threading.Lock()


def check_name(value: Any, name: str) -> str:
    """A namespace or key: letters, digits, ``_ - .``; not hidden, not a staging name."""
    if not isinstance(value, str) or not _NAME_PATTERN.match(value):
        raise InputError(
            f"{name} must be a non-empty name of letters, digits, '_', '-' and '.', not "
            f"starting with '.' or '-', got {value!r}"
        )
    if value.endswith(STAGING_SUFFIX):
        raise InputError(f"{name} must not end with {STAGING_SUFFIX!r}, got {value!r}")
    return value


def _sha256(path: Path, fsync: bool = False) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
        if fsync:
            os.fsync(handle.fileno())
    return digest.hexdigest()


def _simfunc_version() -> str:
    from simfunc import __version__

    return __version__


class Cache:
    """Content-addressed artifact store rooted at ``root`` (created on first write).

    Parameters
    ----------
    root:
        The cache directory (for example ``cache/``). Paths are made absolute, so a Cache can be
        handed to worker processes that run in another directory.
    keep_corrupt:
        Keep entries that fail verification under ``root/.corrupt/`` for inspection instead of
        deleting them.
    """

    def __init__(self, root: str | os.PathLike[str], keep_corrupt: bool = False) -> None:
        if not isinstance(root, (str, os.PathLike)):
            raise InputError(f"root must be a path, got {type(root).__name__}")
        self.root = Path(root).expanduser().absolute()
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"root {str(self.root)!r} exists and is not a directory")
        self.keep_corrupt = bool(keep_corrupt)

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    # -- paths ---------------------------------------------------------------------------------

    def entry_path(self, namespace: str, key: str) -> Path:
        """Where the committed entry ``namespace/key`` lives (whether or not it exists)."""
        return self.root / check_name(namespace, "namespace") / check_name(key, "key")

    def staging_path(self, namespace: str, key: str) -> Path:
        """The staging directory a job computing ``namespace/key`` writes into."""
        return self.entry_path(namespace, key).with_name(key + STAGING_SUFFIX)

    def lock_path(self, namespace: str, key: str) -> Path:
        """The lock file that serialises work on ``namespace/key`` across processes."""
        entry = self.entry_path(namespace, key)
        return self.root / ".locks" / entry.parent.name / f"{entry.name}.lock"

    def log_path(self, namespace: str, key: str) -> Path:
        """The file a job's ``ctx.log`` messages are appended to."""
        entry = self.entry_path(namespace, key)
        return self.root / ".logs" / entry.parent.name / f"{entry.name}.log"

    # -- writing -------------------------------------------------------------------------------

    def prepare_staging(self, namespace: str, key: str) -> Path:
        """Create (or reopen) the staging directory of ``namespace/key`` and return it.

        Files from an interrupted earlier attempt are kept, so the job can resume from them;
        leftovers of interrupted atomic writes and a manifest from an interrupted commit are
        deleted, as they are never valid content.
        """
        staging = self.staging_path(namespace, key)
        staging.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers(staging)
        with contextlib.suppress(FileNotFoundError):
            (staging / MANIFEST_NAME).unlink()
        return staging

    def discard_staging(self, namespace: str, key: str) -> None:
        """Delete the staging directory of ``namespace/key`` (a fresh start for that job)."""
        shutil.rmtree(self.staging_path(namespace, key), ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, namespace: str, key: str) -> Iterator[None]:
        """Hold an exclusive inter-process lock on ``namespace/key`` for the ``with`` block.

        Blocks (logging that it waits) while another process holds it. The operating system
        releases the lock if the holder dies, so a killed runner never leaves a stale lock.
        """
        import fcntl

        path = self.lock_path(namespace, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("waiting for another process computing %s/%s", namespace, key)
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def commit(
        self,
        staging: str | os.PathLike[str],
        *,
        fn: str = "",
        config: Any = None,
        inputs: Mapping[str, str] | None = None,
    ) -> Path:
        """Seal a staging directory into a committed entry and return the entry's path.

        Computes the size and sha256 of every file (fsyncing each), writes ``manifest.json``
        atomically with the provenance (``fn``, ``config``, ``inputs``), then renames the
        staging directory onto the final path. If another process committed the same entry in
        the meantime, its entry is verified and kept, this staging directory is discarded, and
        the existing entry is returned; a corrupt existing entry is replaced.
        """
        staging = Path(staging).absolute()
        namespace, key = self._parse_staging(staging)
        final = self.entry_path(namespace, key)
        if not staging.is_dir():
            existing = self.lookup(namespace, key)
            if existing is not None:  # another process committed it and took the staging dir
                return existing
            raise InputError(f"staging directory {str(staging)!r} does not exist")
        if (staging / MANIFEST_NAME).exists():
            raise InputError(
                f"{str(staging / MANIFEST_NAME)!r} exists: {MANIFEST_NAME!r} is reserved for the "
                "cache (prepare_staging removes a stale one); jobs must use another file name"
            )
        self._remove_leftovers(staging)
        files = {}
        for path in sorted(staging.rglob("*")):
            relative = path.relative_to(staging).as_posix()
            if path.is_symlink():
                raise InputError(
                    f"{relative!r} in {str(staging)!r} is a symbolic link: entries hold files only"
                )
            if path.is_file():
                files[relative] = {"size": path.stat().st_size, "sha256": _sha256(path, True)}
        manifest = {
            "format_version": FORMAT_VERSION,
            "simfunc_version": _simfunc_version(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "namespace": namespace,
            "key": key,
            "fn": fn,
            "config": normalize_config(config, "config"),
            "inputs": normalize_config(dict(inputs or {}), "inputs"),
            "files": files,
        }
        atomic_write_json(staging / MANIFEST_NAME, manifest)
        for _attempt in range(5):
            try:
                os.rename(staging, final)
                break
            except OSError as error:
                if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                    raise
            existing = self.lookup(namespace, key)  # evicts the existing entry if corrupt
            if existing is not None:
                shutil.rmtree(staging, ignore_errors=True)
                return existing
        else:
            raise OSError(f"could not commit {str(staging)!r} onto {str(final)!r}")
        fsync_directory(final.parent)
        fingerprint = self._fingerprint(final, manifest)
        if fingerprint is not None:
            with _verified_lock:
                _verified[str(final)] = fingerprint
        return final

    # -- reading -------------------------------------------------------------------------------

    def lookup(self, namespace: str, key: str, verify: bool = True) -> Path | None:
        """The committed entry ``namespace/key`` if it is complete, else ``None``.

        With ``verify`` every file's sha256 is recomputed (once per process while the files stay
        untouched); without it only the manifest, the presence and the size of files are
        checked. A damaged entry is reported (a warning), moved out of the way and ``None`` is
        returned, so the caller recomputes it.
        """
        entry = self.entry_path(namespace, key)
        if not os.path.lexists(entry):
            return None
        problem = self._problem(entry, verify)
        if problem is None:
            return entry
        where = self._evict(entry)
        logger.warning(
            "cache entry %s/%s is damaged: %s; %s, it will be recomputed",
            namespace,
            key,
            problem,
            f"moved to {where}" if where else "deleted",
        )
        return None

    def manifest(self, entry: str | os.PathLike[str]) -> dict[str, Any]:
        """The parsed manifest of a committed entry."""
        path = Path(entry) / MANIFEST_NAME
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError) as error:
            raise InputError(f"{str(path)!r} cannot be read: {error}") from None

    def load(self, entry: str | os.PathLike[str], filename: str) -> Any:
        """Load ``filename`` of a committed entry with the safe loader for its suffix."""
        return load_artifact(Path(entry) / filename)

    # -- internals -----------------------------------------------------------------------------

    def _parse_staging(self, staging: Path) -> tuple[str, str]:
        if not staging.name.endswith(STAGING_SUFFIX) or staging.parent.parent != self.root:
            raise InputError(
                f"staging {str(staging)!r} is not a staging directory of {self!r} "
                "(use cache.prepare_staging(namespace, key))"
            )
        key = staging.name[: -len(STAGING_SUFFIX)]
        return check_name(staging.parent.name, "namespace"), check_name(key, "key")

    @staticmethod
    def _remove_leftovers(staging: Path) -> None:
        for path in staging.rglob("*"):
            if is_temp_file(path) and path.is_file():
                path.unlink(missing_ok=True)

    def _problem(self, entry: Path, verify: bool) -> str | None:
        """What is wrong with ``entry``, or None if it is complete."""
        if not entry.is_dir() or entry.is_symlink():
            return "it is not a directory"
        manifest_path = entry / MANIFEST_NAME
        try:
            with open(manifest_path, encoding="utf-8") as handle:
                manifest = json.load(handle)
        except FileNotFoundError:
            return f"{MANIFEST_NAME} is missing"
        except (OSError, ValueError) as error:
            return f"{MANIFEST_NAME} is unreadable ({error})"
        files = manifest.get("files") if isinstance(manifest, dict) else None
        if not isinstance(files, dict) or manifest.get("format_version") != FORMAT_VERSION:
            return f"{MANIFEST_NAME} is malformed or of another format version"
        if manifest.get("key") != entry.name or manifest.get("namespace") != entry.parent.name:
            return (
                f"{MANIFEST_NAME} describes {manifest.get('namespace')}/{manifest.get('key')}, "
                "not this entry"
            )
        for relative, info in files.items():
            path = entry / relative
            if (
                not isinstance(info, dict)
                or Path(relative).is_absolute()
                or ".." in Path(relative).parts
            ):
                return f"{MANIFEST_NAME} has an invalid record for {relative!r}"
            if not path.is_file():
                return f"file {relative!r} is missing"
            size = path.stat().st_size
            if size != info.get("size"):
                return (
                    f"file {relative!r} has {size} bytes but the manifest says {info.get('size')}"
                )
        if not verify:
            return None
        fingerprint = self._fingerprint(entry, manifest)
        with _verified_lock:
            if fingerprint is not None and _verified.get(str(entry)) == fingerprint:
                return None
        for relative, info in files.items():
            try:
                digest = _sha256(entry / relative)
            except OSError as error:
                return f"file {relative!r} cannot be read ({error})"
            if digest != info.get("sha256"):
                return (
                    f"file {relative!r} has sha256 {digest[:16]}… but the manifest says "
                    f"{str(info.get('sha256'))[:16]}…"
                )
        if fingerprint is not None:
            with _verified_lock:
                _verified[str(entry)] = fingerprint
        return None

    @staticmethod
    def _fingerprint(entry: Path, manifest: dict[str, Any]) -> tuple | None:
        """Size, inode and modification/change times of the manifest and every file."""
        try:
            stats = []
            for relative in [MANIFEST_NAME, *sorted(manifest["files"])]:
                stat = (entry / relative).stat()
                stats.append(
                    (relative, stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)
                )
            return tuple(stats)
        except OSError:
            return None

    def _evict(self, entry: Path) -> Path | None:
        """Move a damaged entry out of the way atomically; keep it only if ``keep_corrupt``."""
        with _verified_lock:
            _verified.pop(str(entry), None)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = f"{entry.name}-{stamp}-{uuid.uuid4().hex[:8]}"
        quarantine = self.root / ".corrupt" / entry.parent.name / name
        quarantine.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(entry, quarantine)
        except FileNotFoundError:  # another process moved it first
            return None
        if self.keep_corrupt:
            return quarantine
        if quarantine.is_dir() and not quarantine.is_symlink():
            shutil.rmtree(quarantine, ignore_errors=True)
        else:
            quarantine.unlink(missing_ok=True)
        return None
