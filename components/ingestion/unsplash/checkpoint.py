"""The work folder of a fetch, ``<root>/.fetch-<key>/``: what makes an interrupted fetch resumable.

  photos/           the next span, growing: each photo is written to tmp/ and renamed in, so a
                    file here is always whole
  tmp/              files being written; emptied when a run starts
  checkpoint.jsonl  one line per finished photo, appended and flushed as each one ends:
                    ``{"photo_id": ..., "file": ...}`` when kept, ``{"photo_id": ..., "reason": ...,
                    "detail": ...}`` when it failed
  summary.json      the last run's summary
  lock              held (flock) while a run works here: a second run on the same manifest stops

A run killed at any point (even SIGKILL) leaves at worst a torn last line and a file in tmp/; the
next run with the same manifests and width (same ``key``) skips every photo the checkpoint
lists as kept (its file is in photos/) or failed (it already had its retries) and goes on. When
the span is published, photos/ becomes it and the checkpoint is cleared: photos that failed
are tried again by the next fetch.

The folder is hidden, so neither the span resolver (``span-*``) nor the ingestion sees it.
"""
import fcntl
import json
import os
import pathlib
import shutil
from typing import Dict, NamedTuple, Optional


class WorkFolderBusy(Exception):
    """Another run holds the work folder's lock."""


class Outcome(NamedTuple):
    photo_id: str
    file: Optional[str] = None     # the kept photo's file name in photos/
    reason: str = ""               # a download.PhotoFailed reason when it was not kept
    detail: str = ""

    @property
    def kept(self) -> bool:
        return self.file is not None


class WorkFolder:
    def __init__(self, root, key: str):
        self.path = pathlib.Path(root) / f".fetch-{key}"
        self.photos = self.path / "photos"
        self.summary_path = self.path / "summary.json"
        self._tmp = self.path / "tmp"
        self._checkpoint_path = self.path / "checkpoint.jsonl"
        self._lock = self._checkpoint = None
        self.outcomes: Dict[str, Outcome] = {}

    def __enter__(self) -> "WorkFolder":
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path / "lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise WorkFolderBusy(f"another fetch is working in {self.path}") from None
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir()
        self.photos.mkdir(exist_ok=True)
        self.outcomes = self._read_checkpoint()
        self._checkpoint = open(self._checkpoint_path, "a", encoding="utf-8")
        return self

    def __exit__(self, *exc_info) -> None:
        self._checkpoint.close()
        self._lock.close()  # releases the lock

    def _read_checkpoint(self) -> Dict[str, Outcome]:
        outcomes = {}
        if self._checkpoint_path.is_file():
            for line in self._checkpoint_path.read_text(encoding="utf-8").splitlines():
                try:
                    outcome = Outcome(**json.loads(line))
                except (ValueError, TypeError):
                    continue  # the torn last line of a killed run
                if not outcome.kept or (self.photos / outcome.file).is_file():
                    outcomes[outcome.photo_id] = outcome
        return outcomes

    def save(self, file_name: str, data: bytes) -> None:
        """Writes a photo into photos/ in one step (thread-safe for distinct names)."""
        temporary = self._tmp / file_name
        temporary.write_bytes(data)
        os.replace(temporary, self.photos / file_name)

    def record(self, outcome: Outcome) -> None:
        """Appends one finished photo to the checkpoint (call from one thread)."""
        self.outcomes[outcome.photo_id] = outcome
        fields = {name: value for name, value in outcome._asdict().items() if value}
        self._checkpoint.write(json.dumps(fields, ensure_ascii=False) + "\n")
        self._checkpoint.flush()

    def clear(self) -> None:
        """After the run: forget the checkpoint (photos/ was published, or holds nothing)."""
        self._checkpoint.truncate(0)
        self.outcomes = {}
        shutil.rmtree(self.photos, ignore_errors=True)
        self.photos.mkdir()
