"""What counts as "new photos" for the rerun check: every visible file, at any depth; hidden
entries (fetch-unsplash's checkpoints, editors' files) do not."""
import os

from colornet.pipeline.freshness import photos_fingerprint


def _tree(root):
    (root / "span-1" / "nested").mkdir(parents=True)
    (root / "span-1" / "nested" / "a.jpg").write_bytes(b"a")
    (root / ".fetch-span-2").mkdir()
    (root / ".fetch-span-2" / "summary.json").write_text("{}")
    return photos_fingerprint(root)


def test_a_hidden_file_or_folder_changes_nothing(tmp_path):
    before = _tree(tmp_path)
    (tmp_path / ".fetch-span-2" / "summary.json").write_text('{"failed": 3}')
    (tmp_path / "span-1" / ".a.jpg.swp").write_bytes(b"editor")
    assert photos_fingerprint(tmp_path) == before


def test_a_new_or_changed_photo_deep_down_counts(tmp_path):
    before = _tree(tmp_path)
    photo = tmp_path / "span-1" / "nested" / "a.jpg"
    os.utime(photo, ns=(1, 1))
    touched = photos_fingerprint(tmp_path)
    assert touched != before
    (tmp_path / "span-1" / "nested" / "b.jpg").write_bytes(b"b")
    assert photos_fingerprint(tmp_path) != touched
