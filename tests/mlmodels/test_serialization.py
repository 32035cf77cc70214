"""Safe formats without Django: archive checks, the pickle scanner, skops trust, bundles."""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import zipfile

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mlmodels import serialization as ser
from mlmodels.serialization import ArchiveLimits, ModelFileError, UnsafeModelError

from .conftest import Payload


def _zip(entries: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _fitted_forest():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    return Pipeline([("scale", StandardScaler()), ("model", RandomForestClassifier(5))]).fit(
        X, y
    ), X


# --- archives ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../escape.txt", r"\.\."),
        ("a/../../b", r"\.\."),
        ("/etc/passwd", "absolute"),
        ("C:/evil", "absolute"),
    ],
)
def test_archive_refuses_paths_outside(name, reason):
    with pytest.raises(ModelFileError, match=reason):
        ser.archive_open(_zip({"ok.json": b"{}", name: b"x"}))


def test_archive_refuses_symlinks():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("weights.safetensors")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(ModelFileError, match="symbolic link"):
        ser.archive_open(buffer.getvalue())


def test_archive_refuses_too_many_entries():
    data = _zip({f"e{i}": b"" for i in range(6)})
    with pytest.raises(ModelFileError, match="6 entries"):
        ser.archive_open(data, limits=ArchiveLimits(max_entries=5))
    ser.archive_open(data, limits=ArchiveLimits(max_entries=6))


def test_archive_refuses_oversized_entries_and_totals():
    bomb = _zip({"zeros": b"\0" * 200_000})  # deflates to a few hundred bytes
    assert len(bomb) < 2_000
    with pytest.raises(ModelFileError, match="per entry"):
        ser.archive_open(bomb, limits=ArchiveLimits(max_entry_bytes=100_000))
    two = _zip({"a": b"\0" * 60_000, "b": b"\0" * 60_000})
    with pytest.raises(ModelFileError, match="decompresses to more than"):
        ser.archive_open(two, limits=ArchiveLimits(max_total_bytes=100_000))


def test_archive_refuses_duplicates_and_garbage():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", "{}")
        with pytest.warns(UserWarning):
            archive.writestr("manifest.json", "{}")
    with pytest.raises(ModelFileError, match="twice"):
        ser.archive_open(buffer.getvalue())
    with pytest.raises(ModelFileError, match="zip archive"):
        ser.archive_open(b"not a zip")


# --- skops ------------------------------------------------------------------------------


def test_skops_round_trip_needs_the_tree_type_in_code():
    pipeline, X = _fitted_forest()
    data = ser.skops_dumps(pipeline)
    assert "sklearn.tree._tree.Tree" in sio.get_untrusted_types(data=data)  # skops' own view
    assert "sklearn.tree._tree.Tree" in ser.TRUSTED_TYPES
    np.testing.assert_allclose(ser.skops_loads(data).predict_proba(X), pipeline.predict_proba(X))


def test_skops_refuses_untrusted_function(marker):
    evil = Pipeline([("run", FunctionTransformer(os.system))])
    with pytest.raises(UnsafeModelError) as caught:
        ser.skops_loads(sio.dumps(evil))
    assert caught.value.untrusted == ["posix.system"]


def test_skops_refuses_crafted_schema(marker):
    """A hand-written schema naming posix.system is refused before anything is built."""
    data = _zip(
        {
            "schema.json": json.dumps(
                {
                    "__class__": "system",
                    "__module__": "posix",
                    "__loader__": "ObjectNode",
                    "content": {
                        "__class__": "dict",
                        "__module__": "builtins",
                        "__loader__": "DictNode",
                        "content": {},
                        "key_types": {
                            "__class__": "list",
                            "__module__": "builtins",
                            "__loader__": "ListNode",
                            "content": [],
                        },
                    },
                    "protocol": 2,
                    "_skops_version": "0.16.0",
                }
            ).encode()
        }
    )
    with pytest.raises(UnsafeModelError, match="posix.system"):
        ser.skops_loads(data)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("left_child", 10**6, "child links"),
        ("right_child", 0, "child links"),
        ("feature", 99, "feature outside"),
    ],
)
def test_tampered_tree_is_refused(field, value, reason):
    """skops trusts Tree only when told to because predict follows node indices
    unchecked; every loaded tree is checked first."""
    pipeline, _ = _fitted_forest()
    tree = pipeline[-1].estimators_[0].tree_
    state = tree.__getstate__()
    state["nodes"][field][0] = value
    tree.__setstate__(state)
    data = sio.dumps(pipeline)
    with pytest.raises(ModelFileError, match=reason):
        ser.skops_loads(data)
    with pytest.raises(ModelFileError, match=reason):
        ser.pickle_load_restricted(pickle.dumps(pipeline))


def test_tampered_boosting_tree_is_refused():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    model = HistGradientBoostingClassifier(max_iter=3).fit(X, X[:, 0] > 0)
    model._predictors[0][0].nodes["feature_idx"][0] = 7
    with pytest.raises(ModelFileError, match="feature outside"):
        ser.skops_loads(sio.dumps(model))


# --- pickles ----------------------------------------------------------------------------


def test_pickle_scan_lists_globals_without_running(evil_pickle):
    scan = ser.pickle_scan(evil_pickle)
    assert scan.complete
    assert scan.globals == ["posix.system"]


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_pickle_refused_naming_the_type(marker, protocol):
    data = pickle.dumps({"weights": np.arange(3), "x": Payload(marker)}, protocol=protocol)
    with pytest.raises(UnsafeModelError) as caught:
        ser.pickle_load_restricted(data)
    assert "posix.system" in caught.value.untrusted


def test_joblib_payload_behind_arrays_is_found(marker):
    """joblib writes raw array bytes that pickletools cannot step over; the dry-run walk
    still finds a payload placed after them, also inside an object array."""
    for obj in (
        {"a": np.arange(1000.0), "x": Payload(marker)},
        {"a": np.arange(10.0), "o": np.array(["x", Payload(marker)], dtype=object)},
    ):
        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        with pytest.raises(UnsafeModelError, match="posix.system"):
            ser.pickle_load_restricted(buffer.getvalue())


def test_compressed_joblib_is_refused():
    pipeline, _ = _fitted_forest()
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    with pytest.raises(ModelFileError, match="compress=0"):
        ser.pickle_load_restricted(buffer.getvalue())


@pytest.mark.parametrize("kind", ["pickle", "joblib"])
def test_sklearn_pickles_load_through_the_allow_list(kind):
    pipeline, X = _fitted_forest()
    if kind == "pickle":
        data = pickle.dumps(pipeline)
    else:
        buffer = io.BytesIO()
        joblib.dump(pipeline, buffer)
        data = buffer.getvalue()
    loaded = ser.pickle_load_restricted(data)
    np.testing.assert_allclose(loaded.predict_proba(X), pipeline.predict_proba(X))


def test_restricted_unpickler_refuses_patching_a_class():
    """BUILD on an allow-listed class would change it for the whole process."""
    import pickletools

    data = (
        b"\x80\x04cnumpy\ndtype\n"  # GLOBAL numpy.dtype (allow-listed)
        b"}X\x04\x00\x00\x00evil\x88s"  # {"evil": True}
        b"b."  # BUILD, STOP
    )
    assert [op.name for op, *_ in pickletools.genops(data)][-2:] == ["BUILD", "STOP"]
    with pytest.raises(ModelFileError, match="modify a class"):
        ser.pickle_load_restricted(data)
    assert not hasattr(np.dtype, "evil")


# --- torch ------------------------------------------------------------------------------


def test_torch_payload_refused_in_zip_and_legacy_files(marker, evil_pickle):
    import torch

    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2), "x": Payload(marker)}, buffer)
    with pytest.raises(UnsafeModelError, match="posix.system"):
        ser.torch_state_dict_loads(buffer.getvalue())
    with pytest.raises(UnsafeModelError, match="posix.system"):
        ser.torch_state_dict_loads(evil_pickle)


def test_bundle_refuses_unknown_entries(marker, evil_pickle):
    from training.ml.nn import build_mlp, make_spec

    spec = make_spec(task="classification", input_size=3, output_size=2, hidden_layers=[4])
    good = ser.bundle_dumps(
        manifest={"classes": [0, 1]}, architecture=spec, state_dict=build_mlp(spec).state_dict()
    )
    assert set(ser.bundle_loads(good).state_dict) == set(build_mlp(spec).state_dict())
    entries = {name: zipfile.ZipFile(io.BytesIO(good)).read(name) for name in ser.BUNDLE_REQUIRED}
    with pytest.raises(ModelFileError, match="Unexpected entries.*model.pkl"):
        ser.bundle_loads(_zip({**entries, "model.pkl": evil_pickle}))
    with pytest.raises(ModelFileError, match="safetensors"):
        ser.bundle_loads(_zip({**entries, "weights.safetensors": evil_pickle}))
