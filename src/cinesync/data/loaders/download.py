"""Fetching MovieLens zips from GroupLens into a local cache, verified against the published MD5.

Only ``load_dataset(..., download=True)`` calls into the network; everything else here works on local
files (and is what the tests exercise).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from cinesync.errors import DataError

log = logging.getLogger(__name__)

BASE_URL = "https://files.grouplens.org/datasets/movielens"
DEFAULT_CACHE = "~/.cache/cinesync"
# Checksums GroupLens publishes in "<name>.zip.md5" for releases that never change (ml-latest changes,
# ml-32m is fetched from its .md5 file).
KNOWN_MD5 = {
    "ml-latest-small": "31a303aabbc519bd33d025e44d6c2570",
    "ml-100k": "0e33842e24a9c977be4e0107933c0723",
    "ml-1m": "c4d9eecfca2ab87c1945afe126590906",
    "ml-10m": "ce571fd55effeba0271552578f2648bd",
    "ml-20m": "cd245b17a1ae2cc31bb14903e1204af3",
    "ml-25m": "6b51fb2759a8657d3bfcbfc42b592ada",
}
_MD5 = re.compile(r"\b([0-9a-fA-F]{32})\b")
_CHUNK = 1 << 20


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder (default ~/.cache/cinesync)."""
    return Path(cache_dir or DEFAULT_CACHE).expanduser()


def url_of(name: str) -> str:
    """GroupLens URL of release ``name``'s zip."""
    return f"{BASE_URL}/{name}.zip"


def md5_of(path: str | os.PathLike[str]) -> str:
    """Hex MD5 of a file, read in 1 MiB chunks."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def parse_md5(text: str) -> str:
    """The checksum in a .md5 file: "MD5 (x.zip) = <hex>" (BSD) or "<hex>  x.zip" (md5sum)."""
    m = _MD5.search(text)
    if m is None:
        raise DataError(f"no MD5 checksum found in {text[:100]!r}")
    return m.group(1).lower()


def verify_md5(path: str | os.PathLike[str], expected: str, *, remove: bool = True) -> None:
    """Raise DataError (and delete the file when ``remove``) unless ``path`` has MD5 ``expected``."""
    got = md5_of(path)
    if got != expected.lower():
        if remove:
            Path(path).unlink(missing_ok=True)
        gone = " The file was removed; download it again." if remove else ""
        raise DataError(f"{path}: MD5 checksum mismatch: got {got}, expected {expected.lower()}.{gone}")


def published_md5(name: str, timeout: float = 30.0) -> str:
    """The checksum GroupLens publishes for ``name`` (falls back to KNOWN_MD5 when offline)."""
    url = url_of(name) + ".md5"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            published = parse_md5(resp.read().decode("ascii", "replace"))
    except (urllib.error.URLError, OSError, DataError) as e:
        if name in KNOWN_MD5:
            log.warning("could not fetch %s (%s); using the known checksum", url, e)
            return KNOWN_MD5[name]
        raise DataError(f"could not fetch the checksum {url} ({e}); download {url_of(name)} yourself "
                        "and pass --path") from e
    known = KNOWN_MD5.get(name)
    if known and known != published:
        raise DataError(f"{url} says {published} but the checksum known for {name} is {known}; refusing to "
                        "use a changed release")
    return published


def download(name: str, cache_dir: str | os.PathLike[str] | None = None, timeout: float = 60.0) -> Path:
    """Download ``<name>.zip`` into the cache (tqdm progress bar), verify its MD5, return its path.

    The file is written as ``.part`` and renamed only after the checksum matches.
    """
    from tqdm.auto import tqdm

    root = cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{name}.zip"
    part = target.with_suffix(".zip.part")
    expected = published_md5(name)
    url = url_of(name)
    log.info("downloading %s -> %s", url, target)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"{name}.zip") as bar:
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError) as e:
        part.unlink(missing_ok=True)
        raise DataError(f"downloading {url} failed: {e}") from e
    verify_md5(part, expected)
    part.replace(target)
    log.info("%s verified (md5 %s)", target, expected)
    return target


def locate(name: str, cache_dir: str | os.PathLike[str] | None = None, do_download: bool = False) -> Path:
    """The local copy of release ``name`` (cached zip or extracted folder), downloading it if asked."""
    root = cache_root(cache_dir)
    for candidate in (root / f"{name}.zip", root / name):
        if candidate.exists():
            return candidate
    if do_download:
        return download(name, cache_dir)
    raise DataError(f"{name} is not available locally (looked for {root / f'{name}.zip'} and {root / name}); "
                    f"pass --path to a local copy (zip or extracted folder), or --download to fetch "
                    f"{url_of(name)} (checksum-verified) into {root}")
