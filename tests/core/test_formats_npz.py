"""Reading sketch-rnn npz files never runs code from them, and bad files end in one clean error."""

import os
import pickle
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from sketchplot.cli import cli
from sketchplot.core import formats
from sketchplot.core.formats import InputError, read_npz


class _WritesAFile:
    """A pickle payload: unpickling it calls os.system (here: creates a marker file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious_npz(path, marker):
    sketches = np.empty(2, dtype=object)
    sketches[0] = np.zeros((3, 3), np.int16)
    sketches[1] = _WritesAFile(marker)
    np.savez(path, test=sketches)
    return path


def _object_npz(path, **splits):
    arrays = {}
    for name, sketches in splits.items():
        array = np.empty(len(sketches), dtype=object)
        array[:] = sketches
        arrays[name] = array
    np.savez(path, **arrays)
    return path


def test_crafted_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = _malicious_npz(tmp_path / "evil.npz", marker)
    with pytest.raises(InputError, match="refused to load 'posix.system'|refused to load 'os.system'"):
        read_npz(path, "test")
    assert not marker.exists()


@pytest.mark.parametrize(
    "command", [["plot", "{path}", "--preview", "{out}"], ["reconstruct", "{path}:0", "--dry-run"]]
)
def test_commands_that_open_npz_refuse_the_payload(tmp_path, command):
    marker = tmp_path / "pwned"
    path = _malicious_npz(tmp_path / "evil.npz", marker)
    args = [a.format(path=path, out=tmp_path / "out.svg") for a in command]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert "refused to load" in result.output and "Traceback" not in result.output
    assert not marker.exists() and not (tmp_path / "out.svg").exists()


def test_random_bytes_are_one_clean_error(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(InputError, match="cannot read npz file"):
        read_npz(path, "test")


def test_random_bytes_inside_a_valid_zip_are_one_clean_error(tmp_path):
    path = tmp_path / "noise.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("test.npy", np.lib.format.MAGIC_PREFIX + b"\x01\x00" + os.urandom(500))
    with pytest.raises(InputError, match="cannot read npz file"):
        read_npz(path, "test")


def test_truncated_pickle_is_one_clean_error(tmp_path):
    good = _object_npz(tmp_path / "good.npz", test=[np.zeros((4, 3), np.int16)] * 3)
    with zipfile.ZipFile(good) as archive:
        data = archive.read("test.npy")
    path = tmp_path / "cut.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("test.npy", data[: len(data) - 20])
    with pytest.raises(InputError, match="cannot read npz file"):
        read_npz(path, "test")


def test_object_arrays_of_numeric_sketches_still_load(tmp_path):
    sketches = [np.array([[1, 2, 0], [3, 4, 1]], np.int16), np.array([[0.5, -1, 1]], np.float32)]
    path = _object_npz(tmp_path / "ok.npz", train=sketches, test=sketches[:1])
    loaded = read_npz(path, "train")
    assert [s.dtype for s in loaded] == [np.int16, np.float32]
    assert all(np.array_equal(a, b) for a, b in zip(loaded, sketches, strict=True))


def test_the_shipped_data_loads_without_pickle(cat_npz, monkeypatch):
    def no_unrestricted_pickle(*args, **kwargs):
        raise AssertionError("np.load with allow_pickle was used")

    monkeypatch.setattr(np, "load", no_unrestricted_pickle)
    loaded = read_npz(cat_npz, "test")
    assert len(loaded) > 100 and loaded[0].shape[1] == 3


def test_strings_and_nested_objects_are_not_sketches(tmp_path):
    path = _object_npz(tmp_path / "odd.npz", test=["hello", np.zeros((2, 3))])
    with pytest.raises(InputError, match=r"not a numpy array record|test\[0\]: not a stroke-3 array"):
        read_npz(path, "test")


def test_non_finite_offsets_are_refused(tmp_path):
    path = _object_npz(tmp_path / "nan.npz", test=[np.array([[np.nan, 0, 1]])])
    with pytest.raises(InputError, match="NaN or infinite"):
        read_npz(path, "test")


def test_oversized_members_are_refused_before_reading(tmp_path, monkeypatch):
    path = _object_npz(tmp_path / "big.npz", test=[np.zeros((1000, 3), np.int16)])
    monkeypatch.setattr(formats, "MAX_NPZ_MEMBER_BYTES", 1000)
    read_calls = []
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *a, **k: read_calls.append(a) or b"")
    with pytest.raises(InputError, match="MiB"):
        read_npz(path, "test")
    assert not read_calls


def test_plain_pickle_file_is_not_an_npz(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(pickle.dumps({"test": [1, 2]}))
    with pytest.raises(InputError, match="cannot read npz file"):
        read_npz(path, "test")


def _npz_with_pickle(path, payload: bytes, shape=(2,)):
    """An npz whose one member announces an object array of ``shape`` and holds ``payload``."""
    header = {"descr": "|O", "fortran_order": False, "shape": shape}
    member = np.lib.format.MAGIC_PREFIX + b"\x01\x00"
    text = repr(header).encode("latin1")
    text += b" " * (63 - (len(member) + 2 + len(text)) % 64) + b"\n"
    member += len(text).to_bytes(2, "little") + text + payload
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("test.npy", member)
    return path


class _HugeShape:
    """Pickles as numpy's array reconstruction with a shape of 10**9 elements."""

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        return (_reconstruct, (np.ndarray, (0,), b"b"), (1, (10**9,), np.dtype("O"), False, [1, 2]))


def test_a_tiny_file_cannot_ask_for_a_huge_or_crashing_array(tmp_path):
    # numpy itself would allocate 8 GB here, and its __setstate__ crashes on the short list
    payload = pickle.dumps(_HugeShape(), protocol=2)
    path = _npz_with_pickle(tmp_path / "huge.npz", payload)
    assert path.stat().st_size < 1000
    with pytest.raises(InputError, match="cannot read npz file"):
        read_npz(path, "test")


def test_a_numeric_header_that_overstates_its_data_is_refused(tmp_path):
    member = np.lib.format.MAGIC_PREFIX + b"\x01\x00"
    text = repr({"descr": "<f8", "fortran_order": False, "shape": (10**9, 3)}).encode()
    text += b" " * (63 - (len(member) + 2 + len(text)) % 64) + b"\n"
    with zipfile.ZipFile(tmp_path / "lie.npz", "w") as archive:
        archive.writestr("test.npy", member + len(text).to_bytes(2, "little") + text + b"\0" * 48)
    with pytest.raises(InputError, match="does not hold"):
        read_npz(tmp_path / "lie.npz", "test")


def test_dtypes_other_than_numbers_are_refused(tmp_path):
    sketches = np.empty(1, dtype=object)
    sketches[0] = np.array([["a", "b", "c"]])
    np.savez(tmp_path / "text.npz", test=sketches)
    with pytest.raises(InputError, match="refused dtype"):
        read_npz(tmp_path / "text.npz", "test")
