"""Download and unpack the official CIFAR-10 / CIFAR-100 python archives, only when asked.

Archives (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html):

* ``cifar10``: https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz,
  md5 ``c58f30108f718f92721af3b95e74349a``, unpacks to ``cifar-10-batches-py/``;
* ``cifar100``: https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz,
  md5 ``eb9058c3a382ffc7106e4002c42a8d85``, unpacks to ``cifar-100-python/``.

The archive is streamed to ``ROOT/<archive>.part`` with a short network timeout, its md5 is
checked, then it is renamed into place and unpacked under ``ROOT``. An archive already in
``ROOT`` with the right checksum is used without any network access (the way to install
offline). Unpacking refuses absolute paths, ``..`` components, links and special files.
Every failure raises :class:`DownloadError` (an ``InputError``) saying where to put the files
by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from simfunc.errors import InputError

__all__ = ["CIFAR_ARCHIVES", "CifarArchive", "DownloadError", "download_cifar", "safe_extract"]

DEFAULT_TIMEOUT = 10.0


class DownloadError(InputError):
    """A download that could not be completed (offline, bad checksum, unsafe archive)."""


@dataclass(frozen=True)
class CifarArchive:
    url: str
    md5: str
    folder: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


CIFAR_ARCHIVES = {
    "cifar10": CifarArchive(
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
        "cifar-10-batches-py",
    ),
    "cifar100": CifarArchive(
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
        "cifar-100-python",
    ),
}


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manual_help(name: str, root: Path) -> str:
    archive = CIFAR_ARCHIVES[name]
    return (
        f"To install {name} by hand, fetch {archive.url} (md5 {archive.md5}) on a machine with "
        f"internet access and either put the archive at {root / archive.filename} and run "
        f"again with download=True, or unpack it so that {root / archive.folder} exists."
    )


def _fetch(url: str, destination: Path, md5: str, timeout: float, help_text: str) -> None:
    partial = destination.with_name(destination.name + ".part")
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise DownloadError(f"could not download {url}: {reason}. {help_text}") from None
    if digest.hexdigest() != md5:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"the file downloaded from {url} has md5 {digest.hexdigest()}, expected {md5}: "
            f"it is corrupt or not the official archive. {help_text}"
        )
    os.replace(partial, destination)


def safe_extract(archive: Path, root: Path) -> None:
    """Unpack the tar archive ``archive`` under ``root``; refuse any member that would land
    outside ``root`` or is not a plain file or folder."""
    root = Path(root).resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                parts = PurePosixPath(member.name).parts
                unsafe = (
                    member.name.startswith(("/", "\\"))
                    or ".." in parts
                    or not (member.isfile() or member.isdir())
                    or not (root / member.name).resolve().is_relative_to(root)
                )
                if unsafe:
                    raise DownloadError(
                        f"archive {str(archive)!r} holds an unsafe member {member.name!r} "
                        "(absolute path, '..', link or special file): nothing was extracted"
                    )
            for member in members:
                target = root / member.name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None  # a regular file always has content
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DownloadError(f"archive {str(archive)!r} could not be unpacked: {error}") from None


def download_cifar(
    name: str,
    root: str | os.PathLike,
    *,
    url: str | None = None,
    md5: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Download (unless already there), verify and unpack ``name`` ("cifar10" or "cifar100")
    under ``root``; return the unpacked folder. ``url`` and ``md5`` override the official
    ones (for mirrors)."""
    if name not in CIFAR_ARCHIVES:
        raise InputError(f"only {', '.join(CIFAR_ARCHIVES)} can be downloaded, not {name!r}")
    archive = CIFAR_ARCHIVES[name]
    url = url or archive.url
    md5 = md5 or archive.md5
    root = Path(root)
    help_text = _manual_help(name, root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(f"cannot create the data root {str(root)!r}: {error}") from None
    local = root / archive.filename
    if not (local.is_file() and _md5(local) == md5):
        _fetch(url, local, md5, timeout, help_text)
    safe_extract(local, root)
    folder = root / archive.folder
    if not folder.is_dir():
        raise DownloadError(
            f"archive {str(local)!r} did not contain the folder {archive.folder}/. {help_text}"
        )
    local.unlink()
    return folder
