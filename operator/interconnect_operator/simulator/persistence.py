"""Optional SQLite persistence of the simulator's dynamic objects (``--state``).

Write-through: every mutating operation writes the records it changed in one
transaction before the response is sent, so a restarted simulator (same
``--state`` file) serves exactly what it had acknowledged. Static objects come
from the inventory and are not stored.

The schema is one generic table: ``(kind, key) -> JSON``. Records are plain
dataclasses; :mod:`.store` turns them into dicts and back. The file holds
secrets (MACsec keys, MD5 passwords, activation keys) like a provider's own
database would: it is created with mode 0600.

Blocking I/O in the event loop is accepted here on purpose: commits are small
(WAL, ``synchronous=NORMAL``: no fsync per commit) and keeping them inside the
request makes "acknowledged means stored" trivially true.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["StateFile"]


class StateFile:
    """A SQLite file of ``(kind, key, data)`` rows with buffered, batched writes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            # Create it private before SQLite opens it: it will hold secrets.
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects ("
            " kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,"
            " PRIMARY KEY (kind, key))"
        )
        self._pending: dict[tuple[str, str], str | None] = {}

    def put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        """Buffer an upsert; written by the next :meth:`flush`."""
        self._pending[(kind, key)] = json.dumps(data, separators=(",", ":"))

    def delete(self, kind: str, key: str) -> None:
        """Buffer a delete; written by the next :meth:`flush`."""
        self._pending[(kind, key)] = None

    def flush(self) -> None:
        """Write everything buffered in one transaction."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        upserts = [(k, key, data) for (k, key), data in pending.items() if data is not None]
        deletes = [(k, key) for (k, key), data in pending.items() if data is None]
        self._db.execute("BEGIN")
        try:
            if upserts:
                self._db.executemany(
                    "INSERT OR REPLACE INTO objects (kind, key, data) VALUES (?, ?, ?)", upserts
                )
            if deletes:
                self._db.executemany("DELETE FROM objects WHERE kind = ? AND key = ?", deletes)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def discard(self) -> None:
        """Drop buffered writes (the operation that made them failed)."""
        self._pending.clear()

    def load(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every stored record as ``(kind, data)``, in insertion order per kind."""
        cursor = self._db.execute("SELECT kind, data FROM objects ORDER BY rowid")
        for kind, data in cursor:
            yield kind, json.loads(data)

    def close(self) -> None:
        """Flush and close the database."""
        self.flush()
        self._db.close()
