"""`atomic`: a file is replaced whole or not at all, and no temporary stays."""

import json

import pytest

from ssgan_jax import atomic


def test_write_json_replaces_the_file_whole(tmp_path):
  path = tmp_path / "sub" / "r.json"  # the parent is created
  atomic.write_json(path, {"b": 1, "a": [1.5, None], "p": tmp_path})
  assert json.loads(path.read_text()) == {
    "a": [1.5, None],
    "b": 1,
    "p": str(tmp_path),  # unknown types as their str
  }
  assert path.read_text().startswith('{\n  "a"')  # sorted, indented
  atomic.write_json(path, [1], indent=None)
  assert path.read_text() == "[1]\n"
  assert sorted(p.name for p in path.parent.iterdir()) == ["r.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
  path = tmp_path / "r.json"
  path.write_text("old")
  with pytest.raises(RuntimeError), atomic.replacing(path) as tmp:
    tmp.write_text("half")
    raise RuntimeError("stopped mid-write")
  assert path.read_text() == "old"
  assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
  # Mixed key types cannot be sorted: the error comes before any rename.
  with pytest.raises(TypeError):
    atomic.write_json(path, {1: "a", "b": 2})
  assert path.read_text() == "old"
  assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
