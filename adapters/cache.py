"""The on-disk cache the AWS CLI, botocore and ``ssooidc`` share: ``~/.aws/sso/cache`` (tokens and
client registrations) and ``~/.aws/cli/cache`` (role credentials).

File names and contents come from the core (``token_cache_key``, ``dump_token``, ...); this module
only reads and writes bytes, safely:

- writes are atomic: a temporary file in the same directory (mode 0600), ``fsync``, ``os.replace``,
  then an ``fsync`` of the directory, so a reader sees the old file or the new one, never half of one;
  a failed write (``ENOSPC``, ``EACCES``, ...) raises :class:`CacheWriteError` and keeps the old file;
- directories are created 0700;
- a missing, unreadable or corrupt file is a miss (``None``), with a warning naming the file; the next
  write replaces it;
- a secret file readable by group or others gets a warning (botocore writes 0600; we repair on write);
- :meth:`CacheDir.lock` is an ``fcntl.flock`` on ``<key>.lock`` beside the file, for read-decide-write
  cycles across processes (botocore and the AWS CLI take no lock: they can still race with us).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TypeVar

import sansio_ssooidc as oidc

__all__ = ["CacheDir", "CacheLock", "CacheLockTimeout", "CacheWriteError", "Store"]

logger = logging.getLogger("sansio_ssooidc.adapters.cache")

#: Largest cache file read: a token file is under 4 KiB; anything far larger is not one of ours.
MAX_FILE_SIZE = 1024 * 1024
#: How long to wait for another process's lock: longer than a refresh with all its retries (~35 s).
LOCK_TIMEOUT = 120.0

T = TypeVar("T")

_WRITE_FIXES = {
    errno.ENOSPC: "free some disk space and run the command again",
    errno.EDQUOT: "free some space within your disk quota and run the command again",
    errno.EACCES: "make the directory writable by you (chmod 700 it, or chown it to your user)",
    errno.EPERM: "make the directory writable by you (chmod 700 it, or chown it to your user)",
    errno.EROFS: "the file system is read-only; set HOME to a writable directory",
    errno.EFBIG: "raise the file size limit (ulimit -f) and run the command again",
}


class CacheWriteError(oidc.SSOOIDCError):
    """A cache file could not be written; the previous file, if any, is unchanged.

    ``path`` is the file and ``errno`` the OS error number (``errno.ENOSPC``, ``errno.EACCES``, ...).
    """

    def __init__(self, path: str, error: OSError) -> None:
        self.path = path
        self.errno = error.errno
        cause = error.strerror or str(error)
        fix = _WRITE_FIXES.get(error.errno or 0, "check the directory and its permissions")
        super().__init__(f"cannot write {path}: {cause}; {fix} (the previous file is unchanged)")


class CacheLockTimeout(oidc.SSOOIDCError):
    """Another process held a cache lock for longer than the timeout."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        super().__init__(
            f"another process has held the lock {path} for over {timeout:.0f} s; if no ssooidc "
            "command is running, delete that file and try again"
        )


class CacheLock:
    """An exclusive ``flock`` on a lock file, held until :meth:`release` (or the ``with`` block ends).

    The lock file may carry a small JSON note (for the one-refresh-attempt-per-minute rule).
    """

    def __init__(
        self, path: str, *, timeout: float = LOCK_TIMEOUT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            deadline = clock() + timeout
            pause = 0.001
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if clock() >= deadline:
                        raise CacheLockTimeout(path, timeout) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.005)
        except BaseException:
            os.close(self._fd)
            raise

    def read_note(self) -> dict[str, object]:
        """The JSON object stored in the lock file ({} if none or unreadable)."""
        try:
            data = os.pread(self._fd, 4096, 0)
            note = json.loads(data) if data.strip() else {}
        except (OSError, ValueError):
            return {}
        return note if isinstance(note, dict) else {}

    def write_note(self, note: dict[str, object]) -> None:
        """Replace the note (best effort: a failure only loses the note)."""
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps(note).encode(), 0)
        except OSError as exc:
            logger.debug("could not write the lock note %s: %s", self.path, exc)

    def release(self) -> None:
        """Unlock (the lock file stays: deleting it would let two processes lock different files)."""
        if self._fd >= 0:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = -1

    def __enter__(self) -> CacheLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class CacheDir:
    """One cache directory: atomic writes, tolerant reads, per-file locks."""

    def __init__(self, path: str) -> None:
        self.path = path

    def file(self, name: str) -> str:
        """The full path of cache file ``name`` (``<sha1>.json``)."""
        if not name or os.sep in name or name.startswith("."):
            raise oidc.ParameterError(f"not a cache file name: {name!r}")
        return os.path.join(self.path, name)

    def ensure(self) -> None:
        """Create the directory (and parents) with mode 0700 if missing."""
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise CacheWriteError(self.path, exc) from None

    def read_text(self, name: str, *, secret: bool = True) -> str | None:
        """The file's text; ``None`` if missing or unreadable (with a warning for the latter)."""
        path = self.file(name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning(
                "ignoring the unreadable cache file %s (%s); it is replaced at the next write",
                path,
                exc.strerror,
            )
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                logger.warning("ignoring %s: not a regular file; remove it", path)
                return None
            if secret and info.st_mode & 0o077:
                logger.warning(
                    "%s is readable by other users (mode %o) and holds secrets; run: chmod 600 %s",
                    path,
                    stat.S_IMODE(info.st_mode),
                    path,
                )
            if info.st_size > MAX_FILE_SIZE:
                logger.warning("ignoring %s: %d bytes is too large for a cache file", path, info.st_size)
                return None
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        except OSError as exc:
            logger.warning("ignoring the unreadable cache file %s (%s)", path, exc.strerror)
            return None
        finally:
            os.close(fd)
        try:
            return b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            logger.warning("ignoring %s: not UTF-8 text; it is replaced at the next write", path)
            return None

    def load(self, name: str, loader: Callable[..., T]) -> T | None:
        """Read and parse a file with a core ``load_*`` function; a corrupt file is a miss."""
        text = self.read_text(name)
        if text is None:
            return None
        try:
            return loader(text, source=self.file(name))
        except oidc.CacheFileError as exc:
            logger.warning("%s", exc)
            return None

    def write_text(self, name: str, text: str) -> None:
        """Atomically replace ``name`` with ``text`` (mode 0600); :class:`CacheWriteError` on failure."""
        path = self.file(name)
        self.ensure()
        tmp = os.path.join(self.path, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                data = text.encode("utf-8")
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException as exc:
            _unlink_quietly(tmp)
            if isinstance(exc, OSError):
                raise CacheWriteError(path, exc) from None
            raise
        self._sync_dir()
        self._sweep(name)

    def _sweep(self, name: str) -> None:
        """Delete the temporary files of ``name`` left by writers that died mid-write (SIGKILL, power
        loss): each may hold a copy of a secret. A live writer's file is left alone."""
        prefix = f".{name}."
        try:
            entries = os.listdir(self.path)
        except OSError:
            return
        for entry in entries:
            if entry.startswith(prefix) and entry.endswith(".tmp"):
                pid = entry[len(prefix) :].partition(".")[0]
                if pid.isdigit() and not _alive(int(pid)):
                    _unlink_quietly(os.path.join(self.path, entry))

    def _sync_dir(self) -> None:
        try:
            dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass  # some file systems cannot sync a directory; the rename itself has happened
        finally:
            os.close(dir_fd)

    def remove(self, name: str) -> bool:
        """Delete ``name`` (and its writers' leftover temporary files); whether it existed."""
        self._sweep(name)
        try:
            os.unlink(self.file(name))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise CacheWriteError(self.file(name), exc) from None
        self._sync_dir()
        return True

    def names(self) -> Iterator[str]:
        """The ``*.json`` files of the directory, sorted."""
        try:
            entries = sorted(os.listdir(self.path))
        except OSError:
            return
        yield from (entry for entry in entries if entry.endswith(".json") and not entry.startswith("."))

    def lock(self, name: str, *, timeout: float = LOCK_TIMEOUT) -> CacheLock:
        """Lock cache file ``name`` (through ``<name minus .json>.lock``) for a read-decide-write cycle."""
        self.ensure()
        stem = name[: -len(".json")] if name.endswith(".json") else name
        try:
            return CacheLock(self.file(stem + ".lock"), timeout=timeout)
        except OSError as exc:
            raise CacheWriteError(self.file(stem + ".lock"), exc) from None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (ours, or another user's)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, and is not ours to signal
        return True
    return True


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


class Store:
    """The AWS CLI's caches under ``home``: tokens and registrations, and role credentials."""

    def __init__(self, home: str) -> None:
        self.sso = CacheDir(os.path.join(home, ".aws", "sso", "cache"))
        self.cli = CacheDir(os.path.join(home, ".aws", "cli", "cache"))

    def load_token(self, key: str) -> oidc.CachedToken | None:
        """The token cached under ``key``, or ``None`` if absent or unreadable (warned)."""
        return self.sso.load(key, oidc.load_token)

    def save_token(self, key: str, token: oidc.CachedToken) -> None:
        """Write ``token`` under ``key`` atomically, 0600, in the AWS CLI's format.

        Raises :class:`CacheWriteError` (naming the file and the fix) and keeps the old file on failure.
        """
        self.sso.write_text(key, oidc.dump_token(token))

    def load_registration(self, key: str) -> oidc.CachedRegistration | None:
        """The client registration cached under ``key``, or ``None`` if absent or unreadable (warned)."""
        return self.sso.load(key, oidc.load_registration)

    def save_registration(self, key: str, registration: oidc.CachedRegistration) -> None:
        """Write ``registration`` under ``key`` atomically, 0600, in the AWS CLI's format."""
        self.sso.write_text(key, oidc.dump_registration(registration))

    def load_role_credentials(self, key: str) -> oidc.CachedRoleCredentials | None:
        """Role credentials cached under ``key`` in ``~/.aws/cli/cache``, or ``None``."""
        return self.cli.load(key, oidc.load_role_credentials)

    def save_role_credentials(self, key: str, credentials: oidc.CachedRoleCredentials) -> None:
        """Write role credentials under ``key`` in ``~/.aws/cli/cache``, as the AWS CLI does."""
        self.cli.write_text(key, oidc.dump_role_credentials(credentials))
