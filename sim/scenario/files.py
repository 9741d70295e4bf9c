"""The files a scenario names (the scenario itself, the files it ``extends``, measured traces):
only regular files are read, and only up to a size, so that a FIFO, a device such as ``/dev/zero``,
a link that points to itself or a huge file is refused with its path instead of hanging the reader
or exhausting memory."""

from __future__ import annotations

import errno
import os
import stat


def not_a_regular_file(path: str | os.PathLike[str], what: str) -> str | None:
    """Why ``path`` cannot be read as ``what`` (``"scenario file"``, ``"trace file"``), or None when
    it is a regular file."""
    text = os.fspath(path)
    if "\x00" in text:
        return f"the path of the {what} contains a NUL byte"
    try:
        info = os.stat(text)
    except FileNotFoundError:
        return "file not found"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return f"cannot read the {what}: it is a link that points to itself"
        return f"cannot read the {what}: {err.strerror or err}"
    if stat.S_ISDIR(info.st_mode):
        return f"is a directory, not a {what}"
    if stat.S_ISFIFO(info.st_mode):
        return f"is a named pipe (FIFO), not a {what}; give a regular file"
    if not stat.S_ISREG(info.st_mode):
        return f"is a device or a socket, not a {what}; give a regular file"
    return None


def read_bytes(path: str | os.PathLike[str], what: str, limit: int) -> bytes:
    """The content of a regular file of at most ``limit`` bytes; :class:`ValueError` saying why
    not otherwise."""
    problem = not_a_regular_file(path, what)
    if problem is not None:
        raise ValueError(problem)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as err:
        raise ValueError(f"cannot read the {what}: {err.strerror or err}") from None
    if len(data) > limit:
        raise ValueError(f"the {what} has more than {limit:,} bytes, the most it may have")
    return data


def shown(path: str | os.PathLike[str]) -> str:
    """A path as a message shows it: NUL bytes visible, at most 300 characters."""
    text = os.fspath(path)
    if "\x00" in text:
        text = text.replace("\x00", "\\0")
    return text if len(text) <= 300 else text[:297] + "..."
