"""Files behind a pickle header that are not checkpoints get one sentence, never a traceback.

The hand-made byte strings each trip torch's weights-only unpickler in a different way
(an unknown opcode, an empty stack, a missing memo entry, invalid UTF-8); the random ones
are what the issue found ("refused as unsafe (Unsupported operand 172)").
"""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
import torch

from detviewer.errors import CheckpointError
from detviewer.io.checkpoints import load_checkpoint
from detviewer.io.pickle_scan import imported_globals, pickle_is_well_formed, starts_with_torch_magic

NOT_A_CHECKPOINT = 'File "{}" is not a checkpoint (not a PyTorch or pickle file we can read).'

DAMAGED = {
    "unknown-opcode": b"\x80\x02\xff\x00",  # 0xff is no pickle opcode ("Unsupported operand 255")
    "pop-from-empty-stack": b"\x80\x020.",  # POP: IndexError inside torch's unpickler
    "memo-never-stored": b"\x80\x02h\x05.",  # BINGET 5: KeyError inside torch's unpickler
    "invalid-utf8": b"\x80\x02X\x02\x00\x00\x00\xff\xfe.",  # BINUNICODE of two non-UTF-8 bytes
}


@pytest.mark.parametrize("name", list(DAMAGED))
def test_damaged_pickle_is_not_a_checkpoint(tmp_path, name):
    path = tmp_path / f"{name}.pt"
    path.write_bytes(DAMAGED[name])
    assert not pickle_is_well_formed(path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(info.value) == NOT_A_CHECKPOINT.format(path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_random_bytes_behind_a_pickle_header(tmp_path, protocol):
    rng = np.random.default_rng(protocol)
    path = tmp_path / "random.pt"
    for _ in range(25):
        size = int(rng.integers(1, 4000))
        path.write_bytes(bytes([0x80, protocol]) + rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        assert str(info.value) == NOT_A_CHECKPOINT.format(path)


def test_zip_archive_with_a_damaged_data_pkl(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.zeros(2)}, good)
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for name in source.namelist():
            target.writestr(name, DAMAGED["unknown-opcode"] if name.endswith("data.pkl") else source.read(name))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(bad)
    assert str(info.value) == NOT_A_CHECKPOINT.format(bad)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_real_checkpoints_are_well_formed_and_import_nothing_unsafe(tmp_path, zip_format):
    path = tmp_path / "sd.pt"
    torch.save({"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(3)}, path,
               _use_new_zipfile_serialization=zip_format)
    assert pickle_is_well_formed(path)
    assert starts_with_torch_magic(path)
    assert imported_globals(path) == []
    with pytest.raises(CheckpointError, match="unknown architecture"):  # read fine, then not a detector
        load_checkpoint(path)


class _Exec:
    def __reduce__(self):
        return (exec, ("pass",))


def test_imported_globals_names_what_a_pickle_would_call(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"model": _Exec()}, protocol=4))
    assert pickle_is_well_formed(path)
    assert imported_globals(path) == ["builtins.exec"]


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_plain_pickle_of_harmless_data_is_called_a_plain_pickle(tmp_path, protocol):
    """Protocol 4+ starts with FRAME, which torch's weights-only unpickler refuses: not "unsafe" either way."""
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"w": b"abc", "n": 2**70}, protocol=protocol))
    assert pickle_is_well_formed(path) and not starts_with_torch_magic(path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(info.value) == f'Checkpoint "{path}" is a plain pickle, not a PyTorch checkpoint.'
