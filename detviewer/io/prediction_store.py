"""The prediction store: what models computed on images, in one SQLite file per cache folder.

    store = PredictionStore.open()                 # $DETVIEWER_CACHE, else $XDG_CACHE_HOME/detviewer, else ~/.cache/detviewer
    info = store.register(RunInfo(...), settings)  # the run's row (run_id filled), or None without a store
    hit = store.get(info.run_id, image_hash, num_labels=K)   # a StoredImage, or None: compute it
    store.put(info.run_id, image_hash, inference)
    store.record_dataset(info.run_id, dataset_name, image_hashes)   # so that the run can be reopened
    reader = store.reader(info.run_id)             # lazy per-image reads (the workspace's candidates)

Layout (``<folder>/predictions.sqlite3``, WAL mode, ``PRAGMA user_version`` = :data:`SCHEMA`):

- ``runs``: one row per run identity, model + weights content hash + protocol + input size + settings (the
  model's own NMS thresholds), with its creation time. Shipped and downloaded weights are hashed by content
  like a user's file, so a changed checkpoint is a new run.
- ``predictions``: keyed by (run, image content hash): image size, NMS parameters, detections and NMS
  candidates as record blobs (io.prediction_records), written one image per transaction: ``kill -9``
  loses at most the image in flight, two processes writing one store wait for each other (busy timeout).
- ``dataset_runs``: a run over a dataset (its name, time, and each image's content hash in order), so a
  stored run opens without decoding or hashing an image.

A store problem never changes a number: a store that cannot be opened, read or written (read-only or full
filesystem, a corrupt file, a folder at its path, a lock held too long) is switched off for the rest of the
process and :attr:`problem` holds one sentence saying so; the images it does not hold are computed. Implausible entries
(io.prediction_records.decode) read as missing, so the image is computed again and the entry replaced.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from detviewer.core.run_info import RunInfo
from detviewer.core.types import Inference
from detviewer.io import prediction_records as records

__all__ = ["STORE_NAME", "SCHEMA", "PredictionStore", "RunReader", "default_store_dir"]

STORE_NAME = "predictions.sqlite3"
SCHEMA = 1
BUSY_TIMEOUT_S = 30.0

_TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, model TEXT NOT NULL, weights_hash TEXT NOT NULL, protocol TEXT NOT NULL,
    input_size TEXT NOT NULL, settings TEXT NOT NULL, created REAL NOT NULL, class_names TEXT NOT NULL,
    UNIQUE (model, weights_hash, protocol, input_size, settings));
CREATE TABLE IF NOT EXISTS predictions (
    run_id INTEGER NOT NULL, image_hash TEXT NOT NULL, height INTEGER, width INTEGER,
    nms_iou REAL, nms_score REAL, nms_agnostic INTEGER, nms_max INTEGER, record TEXT,
    det_n INTEGER, det BLOB, created REAL,
    PRIMARY KEY (run_id, image_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS candidates (
    run_id INTEGER NOT NULL, image_hash TEXT NOT NULL, cand_n INTEGER, cand BLOB,
    PRIMARY KEY (run_id, image_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dataset_runs (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, dataset TEXT NOT NULL, created REAL NOT NULL,
    num_images INTEGER NOT NULL, image_hashes TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dataset_runs_by_run ON dataset_runs (run_id, dataset);
"""
_COLUMNS = ("height", "width", "nms_iou", "nms_score", "nms_agnostic", "nms_max", "record", "det_n", "det")
_CANDIDATES = ("cand_n", "cand")
_REASONS = {
    "SQLITE_FULL": "the disk is full", "SQLITE_READONLY": "it is read-only", "SQLITE_CANTOPEN": "it cannot be opened",
    "SQLITE_NOTADB": "it is not a SQLite database; delete it to start an empty store",
    "SQLITE_CORRUPT": "the file is corrupt; delete it to start an empty store",
    "SQLITE_BUSY": "another process held it locked too long", "SQLITE_LOCKED": "it is locked",
    "SQLITE_PERM": "permission denied", "SQLITE_IOERR": "an I/O error occurred", "SQLITE_NOMEM": "out of memory",
}


def default_store_dir() -> Path:
    """The cache folder the window and the CLI share: ``$DETVIEWER_CACHE``, else ``$XDG_CACHE_HOME/detviewer``,
    else ``~/.cache/detviewer``."""
    env = os.environ.get("DETVIEWER_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "detviewer"


def _reason(exc: BaseException) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""
    for key, text in _REASONS.items():
        if name.startswith(key):
            return text
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a file is in the place of its folder"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return (str(exc).strip() or type(exc).__name__).rstrip(".")


class PredictionStore:
    """One store file; see the module docstring. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path, connection: sqlite3.Connection | None, problem: str | None = None) -> None:
        self.path = path
        self._conn = connection
        self._lock = threading.RLock()
        self.problem: str | None = problem

    # -- opening ------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | os.PathLike[str] | None = None) -> PredictionStore:
        """The store of ``folder`` (default: :func:`default_store_dir`). Never raises: a store that cannot be
        opened comes back switched off with :attr:`problem` set."""
        path = Path(folder if folder is not None else default_store_dir()) / STORE_NAME
        store = cls(path, None)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and not path.is_file():
                raise IsADirectoryError(21, "a folder is in its place")
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
            store._conn = conn
            _prepare(conn)
        except (sqlite3.Error, OSError, MemoryError) as exc:
            store._fail("opened", exc)
        return store

    @property
    def usable(self) -> bool:
        return self._conn is not None

    def _fail(self, action: str, exc: BaseException) -> None:
        """Switch the store off for good, keeping the first sentence that says why."""
        if self.problem is None:
            self.problem = (f"The prediction store {self.path} could not be {action} ({_reason(exc)}); the run goes "
                            f"on without it: no image is lost and no number changes.")
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    def _run(self, action: str, sql: str, params=()) -> list | None:
        """Execute one statement (autocommit: one statement is one transaction); rows, or None when the store
        is off or just failed."""
        with self._lock:
            if self._conn is None:
                return None
            try:
                return self._conn.execute(sql, params).fetchall()
            except (sqlite3.Error, OSError, MemoryError) as exc:
                self._fail(action, exc)
                return None

    # -- runs -----------------------------------------------------------------------------------------------
    def register(self, info: RunInfo, settings: str = "", class_names: tuple[str, ...] = ()) -> RunInfo | None:
        """``info`` with ``run_id`` set: the existing row of this identity (model, weights hash, protocol,
        input size, settings) or a new one (which keeps the model's class names). None when the store is off."""
        size = "" if info.input_size is None else f"{info.input_size[0]}x{info.input_size[1]}"
        key = (info.model, info.weights_hash, info.protocol, size, settings)
        if self._run("written", "INSERT OR IGNORE INTO runs (model, weights_hash, protocol, input_size, settings, "
                                "created, class_names) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (*key, info.created, "\n".join(class_names))) is None:
            return None
        rows = self._run("read", "SELECT id, created FROM runs WHERE model = ? AND weights_hash = ? AND protocol = ? "
                                 "AND input_size = ? AND settings = ?", key)
        if not rows:
            return None
        return replace(info, run_id=int(rows[0][0]))

    def get(self, run_id: int, image_hash: str, class_names: tuple[str, ...] = (),
            num_labels: int = 0) -> records.StoredImage | None:
        """One image's stored answer, or None (absent, implausible, or the store is off)."""
        rows = self._run("read", f"SELECT {', '.join('p.' + c for c in _COLUMNS)}, c.cand_n, c.cand FROM predictions p "
                                 f"JOIN candidates c USING (run_id, image_hash) WHERE run_id = ? AND image_hash = ? "
                                 f"AND length(p.det) <= ? AND length(c.cand) <= ?",  # never load a giant blob
                         (run_id, image_hash, *(2 * (records.MAX_BOXES * records.RECORD.itemsize,))))
        if not rows:
            return None
        return records.decode(dict(zip((*_COLUMNS, *_CANDIDATES), rows[0])), tuple(class_names), num_labels)

    def put(self, run_id: int, image_hash: str, inference: Inference) -> bool:
        """Store one image's answer (one transaction); False when the store is off or the write failed."""
        try:
            values = records.encode(inference)
        except (ValueError, TypeError, MemoryError):
            return False
        return self.put_encoded(run_id, image_hash, values)

    def put_encoded(self, run_id: int, image_hash: str, values: dict) -> bool:
        """:meth:`put` of an answer already encoded by ``io.prediction_records.encode``."""
        cols = ("run_id", "image_hash", *_COLUMNS, "created")
        row = (run_id, image_hash, *(values[c] for c in _COLUMNS), time.time())
        with self._lock:
            if self._conn is None:
                return False
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute(f"INSERT OR REPLACE INTO predictions ({', '.join(cols)}) "
                                   f"VALUES ({', '.join('?' * len(cols))})", row)
                self._conn.execute("INSERT OR REPLACE INTO candidates (run_id, image_hash, cand_n, cand) "
                                   "VALUES (?, ?, ?, ?)", (run_id, image_hash, values["cand_n"], values["cand"]))
                self._conn.execute("COMMIT")
                return True
            except (sqlite3.Error, OSError, MemoryError) as exc:
                self._rollback()
                self._fail("written", exc)
                return False

    def _rollback(self) -> None:
        try:
            if self._conn is not None and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except (sqlite3.Error, OSError):
            pass

    def record_dataset(self, run_id: int, dataset: str, image_hashes: list[str | None] | tuple) -> int | None:
        """Remember that run ``run_id`` covered ``dataset`` with these image hashes (None: the image failed);
        the row id, or None."""
        text = "\n".join(h or "" for h in image_hashes)
        if self._run("written", "INSERT INTO dataset_runs (run_id, dataset, created, num_images, image_hashes) "
                                "VALUES (?, ?, ?, ?, ?)", (run_id, dataset, time.time(), len(image_hashes), text)) \
                is None:
            return None
        rows = self._run("read", "SELECT max(id) FROM dataset_runs WHERE run_id = ? AND dataset = ?", (run_id, dataset))
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def latest_dataset_run(self, dataset: str, run_id: int | None = None) -> tuple[int, int] | None:
        """(dataset-run id, run id) of the newest stored run over ``dataset`` (of run ``run_id`` when given)."""
        sql = "SELECT id, run_id FROM dataset_runs WHERE dataset = ?" + (" AND run_id = ?" if run_id is not None else "")
        rows = self._run("read", sql + " ORDER BY id DESC LIMIT 1", (dataset,) if run_id is None else (dataset, run_id))
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    def dataset_run(self, dataset_run_id: int) -> tuple[int, str] | None:
        """(run id, dataset) of a stored run over a dataset, or None."""
        rows = self._run("read", "SELECT run_id, dataset FROM dataset_runs WHERE id = ?", (dataset_run_id,))
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def run_info(self, run_id: int, dataset: str = "") -> tuple[RunInfo, tuple[str, ...]] | None:
        """The provenance of run ``run_id`` (a run may cover several datasets: ``dataset`` is filled in) and
        the model's class names."""
        rows = self._run("read", "SELECT model, weights_hash, protocol, input_size, created, class_names FROM runs "
                                 "WHERE id = ?", (run_id,))
        if not rows:
            return None
        model, weights, protocol, size, created, names = rows[0]
        hw: tuple[int, int] | None = None
        try:
            if size:
                height, width = size.split("x")
                hw = (int(height), int(width))
        except ValueError:
            hw = None
        return RunInfo(model, weights, protocol, dataset, hw, created, run_id), tuple(names.split("\n")) if names \
            else ()

    def load_dataset_run(self, dataset_run_id: int, num_labels: int = 0):
        """A stored run over a dataset without touching an image: ``(image_hashes (I,) with None where the
        image failed or its entry is missing/implausible, counts (I,) int64, records (N,) RECORD)`` with the
        detections of image i at ``records[offsets[i]:offsets[i] + counts[i]]``; None when unavailable."""
        rows = self._run("read", "SELECT run_id, image_hashes FROM dataset_runs WHERE id = ?", (dataset_run_id,))
        if not rows:
            return None
        run_id, text = rows[0]
        hashes: list[str | None] = [h or None for h in text.split("\n")] if text else []
        with self._lock:
            if self._conn is None:
                return None
            try:  # rows whose count and blob length disagree are left out here, in C
                rows = self._conn.execute(
                    "SELECT image_hash, det_n, det FROM predictions WHERE run_id = ? AND record = ? AND "
                    "typeof(det_n) = 'integer' AND typeof(det) = 'blob' AND det_n BETWEEN 0 AND ? AND "
                    "length(det) = det_n * ? ORDER BY image_hash",
                    (run_id, records.RECORD_NAME, records.MAX_BOXES, records.RECORD.itemsize)).fetchall()
            except (sqlite3.Error, MemoryError) as exc:
                self._fail("read", exc)
                return None
        stored_hashes, stored_counts, blobs = zip(*rows) if rows else ((), (), ())
        del rows
        keys = np.array(stored_hashes, dtype=str) if stored_hashes else np.zeros(0, "U1")
        wanted = np.array([h or "" for h in hashes], dtype=str) if hashes else np.zeros(0, "U1")
        pos = np.searchsorted(keys, wanted)
        found = (pos < len(keys)) & (keys[np.minimum(pos, max(len(keys) - 1, 0))] == wanted) if len(keys) \
            else np.zeros(len(wanted), bool)
        found &= wanted != ""
        pos = pos[found]
        counts = np.zeros(len(hashes), np.int64)
        counts[found] = np.fromiter(stored_counts, np.int64, len(stored_counts))[pos]
        recs = np.frombuffer(b"".join([blobs[j] for j in pos.tolist()]), records.RECORD)
        del blobs
        for i in np.flatnonzero(~found).tolist():
            hashes[i] = None
        bad = ~(np.isfinite(recs["xyxy"]).all(axis=1) & np.isfinite(recs["score"]) & (recs["label"] >= 0))
        if num_labels > 0:
            bad |= recs["label"] >= num_labels
        if bad.any():  # drop the whole image of an implausible record: it reads as not stored
            owner = np.repeat(np.arange(len(hashes)), counts)
            keep = np.ones(len(hashes), bool)
            keep[np.unique(owner[bad])] = False
            for i in np.flatnonzero(~keep).tolist():
                hashes[i] = None
            recs, counts = recs[keep[owner]], np.where(keep, counts, 0)
        return tuple(hashes), counts, recs

    def reader(self, run_id: int, num_labels: int = 0) -> RunReader:
        return RunReader(self, run_id, num_labels)


class RunReader:
    """Lazy per-image reads of one run: ``load(image_hash, class_names)`` -> StoredImage or None."""

    def __init__(self, store: PredictionStore, run_id: int, num_labels: int = 0) -> None:
        self.store, self.run_id, self.num_labels = store, run_id, num_labels

    def load(self, image_hash: str, class_names: tuple[str, ...] = ()) -> records.StoredImage | None:
        return self.store.get(self.run_id, image_hash, class_names, self.num_labels)


def _prepare(conn: sqlite3.Connection) -> None:
    """WAL mode, the busy timeout and the tables; a store made by a newer detviewer is refused."""
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:  # switching to WAL needs a moment alone with the file; another process may be creating it too
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY") and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"WAL mode is not available here (journal mode {mode})")
    conn.execute("PRAGMA synchronous = NORMAL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA:
        raise sqlite3.DatabaseError(f"it was written by a newer detviewer (schema {version})")
    if version < SCHEMA:
        conn.execute("BEGIN IMMEDIATE")  # two processes creating the tables: one does, the other waits
        try:
            for statement in filter(str.strip, _TABLES.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
