"""``detviewer merge-results``: ids are validated and no input is ever overwritten (one sentence, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from detviewer.cli import main


def _shard(folder: Path, name: str, ids, files=None) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps([{"image_id": i, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5} for i in ids]))
    if files is not None:
        (folder / f"{name}.images.json").write_text(json.dumps({"images": [{"id": i, "file_name": f}
                                                                           for i, f in zip(ids, files)]}))
    return path


def _err(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]


def test_merged_ids_and_mapping(tmp_path, capsys):
    a = _shard(tmp_path, "a", [1, 3], ["x/1.jpg", "x/3.jpg"])
    b = _shard(tmp_path, "b", [2], ["x/2.jpg"])
    out = tmp_path / "out" / "all.json"
    assert main(["merge-results", str(a), str(b), "-o", str(out)]) == 0
    assert sorted(r["image_id"] for r in json.loads(out.read_text())) == [1, 2, 3]
    images = json.loads((tmp_path / "out" / "all.images.json").read_text())["images"]
    assert [(m["id"], m["file_name"]) for m in images] == [(1, "x/1.jpg"), (2, "x/2.jpg"), (3, "x/3.jpg")]


def test_out_equal_to_an_input_is_refused_and_the_input_kept(tmp_path, capsys, monkeypatch):
    a, b = _shard(tmp_path, "a", [1]), _shard(tmp_path, "b", [2])
    before = a.read_bytes()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for out in (str(a), "sub/../a.json", "a.json"):  # the same file, however it is spelled
        assert main(["merge-results", str(a), str(b), "-o", out]) == 2
        assert _err(capsys) == [f"error: -o {out} would overwrite the input {a}; write the merged results to "
                                f"another file."]
    assert a.read_bytes() == before


def test_out_onto_an_input_mapping_is_refused(tmp_path, capsys):
    a = _shard(tmp_path, "a", [1], ["1.jpg"])
    b = _shard(tmp_path, "b", [2], ["2.jpg"])
    before = (tmp_path / "a.images.json").read_bytes()
    assert main(["merge-results", str(a), str(b), "-o", str(tmp_path / "a.images.json")]) == 2
    assert "would overwrite the input" in _err(capsys)[0]
    assert (tmp_path / "a.images.json").read_bytes() == before


def test_non_integer_image_ids_are_one_sentence(tmp_path, capsys):
    a, b = _shard(tmp_path, "a", [1]), _shard(tmp_path, "b", ["2", 3])
    assert main(["merge-results", str(a), str(b), "-o", str(tmp_path / "m.json")]) == 2
    assert _err(capsys) == [f'error: {b}: result 0 has image_id "2", which is not an integer; COCO results number '
                            f'images by integer ids.']
    c = _shard(tmp_path, "c", [True])
    assert main(["merge-results", str(a), str(c), "-o", str(tmp_path / "m.json")]) == 2
    assert "has image_id true, which is not an integer" in _err(capsys)[0]
    assert not (tmp_path / "m.json").exists()


def test_a_non_integer_mapping_id_is_one_sentence(tmp_path, capsys):
    a = _shard(tmp_path, "a", [1], ["1.jpg"])
    (tmp_path / "a.images.json").write_text(json.dumps({"images": [{"id": [1], "file_name": "1.jpg"}]}))
    b = _shard(tmp_path, "b", [2], ["2.jpg"])
    assert main(["merge-results", str(a), str(b), "-o", str(tmp_path / "m.json")]) == 2
    assert _err(capsys) == [f"error: {tmp_path / 'a.images.json'}: images[0] has id [1], which is not an integer."]


def test_one_id_for_two_files_across_shards_is_one_sentence(tmp_path, capsys):
    a = _shard(tmp_path, "a", [1], ["cat.jpg"])
    b = _shard(tmp_path, "b", [2], ["dog.jpg"])
    (tmp_path / "b.images.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "dog.jpg"}]}))
    assert main(["merge-results", str(a), str(b), "-o", str(tmp_path / "m.json")]) == 2
    assert _err(capsys) == [f'error: image id 1 is "cat.jpg" in {tmp_path / "a.images.json"} and "dog.jpg" in '
                            f'{tmp_path / "b.images.json"}: the shards were not numbered alike.']
    assert not (tmp_path / "m.json").exists()
