"""Skips a pipeline run when neither the photos nor the config changed since the last success.

TFX's cache alone cannot do this here: the Trainer warm-starts from the last blessed model,
so each run's Trainer has a new input (the previous run's model) and would retrain, re-evaluate
and push again on the same photos. The fingerprint covers every file under the photo folder
(path, size, modification time, recursively), so an edit deep in a nested folder counts too;
hidden entries (``.name``) are left out, as ingestion leaves them out (``fetch-unsplash`` keeps its
checkpoints in a hidden folder beside the spans, and rewriting them adds no photo).
"""
import dataclasses
import hashlib
import json
import os
import pathlib

RECORD_FILE = "last_successful_run.json"


def visible_files(images_dir):
    """Paths of the files under ``images_dir``, hidden entries (``.name``, and everything below a
    hidden folder) left out, as ingestion leaves them out; hidden folders are not even walked."""
    for folder, subfolders, names in os.walk(images_dir):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        yield from (os.path.join(folder, name) for name in names if not name.startswith("."))


def photos_fingerprint(images_dir):
    """A digest of every visible file's relative path, size and mtime under ``images_dir``."""
    digest = hashlib.sha256()
    root = pathlib.Path(images_dir)
    for path in sorted(map(pathlib.Path, visible_files(images_dir))):
        if not path.is_file():
            continue
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def run_fingerprint(config):
    """What a run depends on: the photos and every config field."""
    settings = json.dumps(dataclasses.asdict(config), sort_keys=True, default=str)
    return {"photos": photos_fingerprint(config.images_dir),
            "config": hashlib.sha256(settings.encode()).hexdigest()}


def _record_path(config):
    return os.path.join(config.local_state_dir, RECORD_FILE)


def _load_record(config):
    try:
        with open(_record_path(config)) as record:
            return json.load(record)
    except (OSError, ValueError):
        return None


def run_unless_unchanged(config, execute):
    """Calls ``execute()`` unless caching is on and photos and config match the last success.

    ``execute`` returns what to record about the run: ``outcome``, a line saying how it ended (the
    Evaluator's verdict), and anything else worth keeping (a retrain's spans). The record is kept
    with the fingerprint in ``local_state_dir`` and its outcome repeated when a rerun is skipped, so
    a rerun after a refused model says why nothing happens. Returns whether it ran. The fingerprint
    is taken before the run, so photos that arrive while it runs still count as new next time.
    Remote photo folders (gs://...) are always run.
    """
    if not os.path.isdir(config.images_dir):
        execute()
        return True
    fingerprint = run_fingerprint(config)
    record = _load_record(config) or {}
    if config.enable_cache and {key: record.get(key) for key in fingerprint} == fingerprint:
        outcome = f" It ended: {record['outcome']}" if record.get("outcome") else ""
        print(f"No new photos and no config change since the last successful run in {config.workdir}, so nothing "
              f"to do; --no-cache runs it again.{outcome}", flush=True)
        return False
    run_record = execute()
    with open(_record_path(config), "w") as record_file:
        json.dump({**fingerprint, **run_record}, record_file)
    return True
