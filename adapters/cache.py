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
  cycles across processes (botocore and the AWS CLI take no lock: they can still race with us);
- a writer killed mid-write leaves a hidden temporary file; the next write or removal of that file
  deletes it: at once when its writer ran on this machine in this pid namespace and is gone, else
  (a container or another host sharing ``~/.aws``, whose pids mean nothing here) once it is
  :data:`STALE_TEMP_AGE` old; a live writer's temporary file is never deleted.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
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
#: A temporary file whose writer cannot be judged here (another pid namespace or host) is deleted only
#: once this old (seconds): a write takes milliseconds, so its writer is long gone.
STALE_TEMP_AGE = 10 * 60

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
            f"another process has held the lock {path} for over {timeout:.0f} s: another ssooidc "
            "command (or program using sansio_ssooidc) is still running, perhaps waiting on the "
            "network; wait for it to finish or stop it, then try again (do not delete the lock file: "
            "a lock ends with the process holding it, and deleting the file only breaks the locking)"
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
        tmp = ""
        try:
            fd = -1
            for _ in range(256):
                candidate = self._temp_name(name)
                with contextlib.suppress(FileExistsError):  # another thread writing the same file
                    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                    tmp = candidate
                    break
            else:
                raise FileExistsError(errno.EEXIST, "no free temporary file name", candidate)
            try:
                data = text.encode("utf-8")
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException as exc:
            if tmp:
                _unlink_quietly(tmp)
            if isinstance(exc, OSError):
                raise CacheWriteError(path, exc) from None
            raise
        self._sync_dir()
        self._sweep(name)

    def _temp_name(self, name: str) -> str:
        """``.<name>.<pid>.<hex>.tmp``, hidden; the last six hex digits name this machine and pid
        namespace (:func:`_writer_tag`), so that a sweep judges only the pids that mean something to it."""
        return os.path.join(
            self.path, f".{name}.{os.getpid()}.{next(_sequence) % 256:02x}{_writer_tag()}.tmp"
        )

    def _sweep(self, name: str) -> None:
        """Delete the temporary files of ``name`` left by writers that died mid-write (SIGKILL, power
        loss): each may hold a copy of a secret. A live writer's file is left alone: one of ours
        (same machine and pid namespace) goes once its pid is gone; any other (a container or host
        sharing the directory, where a pid here says nothing) once it is :data:`STALE_TEMP_AGE` old."""
        prefix = f".{name}."
        try:
            entries = os.listdir(self.path)
        except OSError:
            return
        tag = _writer_tag()
        for entry in entries:
            if not (entry.startswith(prefix) and entry.endswith(".tmp")):
                continue
            pid, _, suffix = entry[len(prefix) : -len(".tmp")].partition(".")
            if not pid.isdigit() or _alive(int(pid)):
                continue
            path = os.path.join(self.path, entry)
            if len(suffix) != 8 or suffix[2:] != tag:
                try:
                    age = time.time() - os.lstat(path).st_mtime
                except OSError:
                    continue
                if age < STALE_TEMP_AGE:
                    continue
            _unlink_quietly(path)

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


_sequence = itertools.count(int.from_bytes(os.urandom(1), "big"))
_tag: tuple[int, str] = (-1, "")


def _writer_tag() -> str:
    """Six hex digits naming where this process's pids mean something: the running kernel (its boot
    id) and our pid namespace on Linux, the host name elsewhere. Equal tags: the same pid space."""
    global _tag
    if _tag[0] != os.getpid():  # a forked child may sit in another namespace (unshare)
        parts = []
        with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id", "rb") as f:
            parts.append(f.read(64).strip().decode("ascii", "replace"))
        with contextlib.suppress(OSError):
            parts.append(os.readlink("/proc/self/ns/pid"))
        if len(parts) < 2:
            parts.append(os.uname().nodename)
        _tag = (os.getpid(), hashlib.sha256("\0".join(parts).encode()).hexdigest()[:6])
    return _tag[1]


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


def _is_sso_role_credentials(path: str) -> bool:
    """Whether ``path`` is a regular JSON file with ``"ProviderType": "sso"`` (what the AWS CLI caches
    for an SSO profile); ``False`` for anything unreadable, odd (a FIFO, a directory) or not such JSON."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_SIZE:
            return False
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        content = json.loads(b"".join(chunks))
    except (OSError, ValueError):  # ValueError covers bad JSON and bad UTF-8
        return False
    finally:
        os.close(fd)
    return isinstance(content, dict) and content.get("ProviderType") == "sso"


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

    def remove_sso_role_credentials(self) -> tuple[list[str], list[oidc.SSOOIDCError]]:
        """Delete every ``*.json`` file of ``~/.aws/cli/cache`` holding ``"ProviderType": "sso"``, as
        ``aws sso logout`` does (its ``SSOCredentialSweeper``); each under its lock, so that a
        ``credentials`` command fetching meanwhile does not write it back afterwards.

        A file that is unreadable, not JSON or another provider's is left alone, and one that vanishes
        meanwhile is no error. Returns the paths removed and the errors of those that could not be
        (:class:`CacheWriteError`, :class:`CacheLockTimeout`).
        """
        removed: list[str] = []
        errors: list[oidc.SSOOIDCError] = []
        for name in self.cli.names():
            path = self.cli.file(name)
            if not _is_sso_role_credentials(path):
                continue
            try:
                with self.cli.lock(name):
                    if _is_sso_role_credentials(path) and self.cli.remove(name):
                        removed.append(path)
            except (CacheWriteError, CacheLockTimeout) as exc:
                errors.append(exc)
        return removed, errors
