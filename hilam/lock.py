"""One writer per cell: two runs of one cell would overwrite each other's checkpoints and append the same episodes to
one journal. An exclusive `flock` on a file in the cell's run directory, holding who took it; the kernel releases it
when the holder's process ends, however it ends, so a killed run never leaves a stale lock."""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path


class CellBusy(RuntimeError):
    """Another process holds the cell."""


class CellLock:
    """`with CellLock(run_dir):` holds `<run_dir>/<name>`; a second holder is refused with the first one's pid and host."""

    def __init__(self, run_dir: str | os.PathLike, name: str = ".lock"):
        self.path = Path(run_dir) / name
        self._file = None

    def __enter__(self) -> "CellLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "a process that has not written its name yet"
            f.close()
            raise CellBusy(f"{self.path.parent}: this cell is being run by another process ({holder}); wait for it "
                           f"to end or stop it, then run again (it resumes)") from None
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                            "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
        f.flush()
        self._file = f
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None
