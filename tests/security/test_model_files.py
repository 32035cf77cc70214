"""Malicious model files under every extension the upload accepts.

tests/mlmodels/test_upload.py has one `__reduce__` -> os.system payload per format;
this walks `serialization.ACCEPTED_SUFFIXES` itself (a suffix added later without a
payload here fails), with more than one way in per suffix: pickle protocols 0 and 5,
other callables than os.system, torch's zip and legacy formats, skops files that
are pickles, bundles that smuggle either. Every one is a 400, runs nothing, stores
nothing, and is audited as denied.
"""

from __future__ import annotations

import builtins
import io
import os
import pickle
import subprocess
import sys
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from collaboration.models import AuditEvent
from mlmodels import serialization
from mlmodels.models import ModelArtifact

from ..mlmodels.conftest import engine_result, register_result
from .conftest import files_under

pytestmark = pytest.mark.django_db


class Reduce:
    """Unpickling this calls `func(*args)`."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _callables(marker) -> dict[str, Reduce]:
    touch = f"touch {marker}"
    return {
        "os_system": Reduce(os.system, touch),
        "exec": Reduce(builtins.exec, f"import os; os.system({touch!r})"),
        "subprocess": Reduce(subprocess.call, ["touch", str(marker)]),
        "eval": Reduce(builtins.eval, f"__import__('os').system({touch!r})"),
    }


def _torch(obj, *, legacy: bool = False) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _payloads(suffix: str, evil: Reduce, bundle: dict[str, bytes]) -> dict[str, bytes]:
    """Files named *suffix* that would run `evil` if loaded the unsafe way."""
    import joblib
    import skops.io as sio
    import torch
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    plain = {f"protocol{p}": pickle.dumps(evil, protocol=p) for p in (0, 2, 5)}
    if suffix in (".pkl", ".pickle"):
        return {**plain, "in_a_dict": pickle.dumps({"model": evil, "w": [1.0] * 100})}
    if suffix == ".joblib":
        buffer = io.BytesIO()
        joblib.dump({"model": evil}, buffer)
        return {**plain, "joblib": buffer.getvalue()}
    if suffix in (".pt", ".pth"):
        return {
            **plain,
            "torch_zip": _torch({"weight": torch.zeros(2), "x": evil}),
            "torch_legacy": _torch({"weight": torch.zeros(2), "x": evil}, legacy=True),
        }
    if suffix == ".skops":
        function = FunctionTransformer(os.system, kw_args={"command": "true"})
        return {**plain, "skops_function": sio.dumps(Pipeline([("run", function)]))}
    if suffix in (".mlbundle", ".zip"):
        return {
            "torch_zip_renamed": _torch({"x": evil}),
            "zip_of_a_pickle": _zip({"data.pkl": pickle.dumps(evil)}),
            "bundle_pickled_weights": _zip({**bundle, "weights.safetensors": pickle.dumps(evil)}),
            "bundle_pickled_preprocess": _zip({**bundle, "preprocess.skops": pickle.dumps(evil)}),
        }
    raise AssertionError(f"no payload for the accepted suffix {suffix}: add one here")


@pytest.fixture
def bundle_entries(team) -> dict[str, bytes]:
    from django.core.files.storage import storages

    artifact = register_result(team, engine_result("neural_network", "classification"), name="N")
    with storages["models"].open(artifact.file_key) as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    return {name: archive.read(name) for name in archive.namelist()}


def test_a_payload_here_really_runs_code_when_unpickled(tmp_path):
    """The payloads are live: plain pickle runs them (in a child process)."""
    for name, evil in _callables(tmp_path / "ran").items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(pickle.dumps(evil))
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import pickle; pickle.loads(open({str(path)!r}, 'rb').read())",
            ],
            check=False,
            capture_output=True,
            timeout=60,
        )
        assert (tmp_path / "ran").exists(), name
        (tmp_path / "ran").unlink()


@pytest.mark.parametrize("suffix", serialization.ACCEPTED_SUFFIXES)
def test_every_accepted_suffix_refuses_code(team, client_for, tmp_path, bundle_entries, suffix):
    marker = tmp_path / "pwned"
    client = client_for(team.editor)
    before = files_under(tmp_path / "storage" / "models")
    tried = 0
    for how, evil in _callables(marker).items():
        for variant, data in _payloads(suffix, evil, bundle_entries).items():
            for name in (f"model{suffix}", f"MODEL{suffix.upper()}"):
                fields = {"file": SimpleUploadedFile(name, data), "name": "evil"}
                fields["workspace"] = str(team.workspace.pk)
                if suffix in (".pt", ".pth"):
                    fields["architecture"] = '{"format": "medilytica.mlp"}'
                response = client.post("/api/models/upload", fields, format="multipart")
                where = f"{name} {how} {variant}"
                # Refused by the worker that read it (here in the same thread): the
                # version is kept, rejected with the reason, and its file removed.
                assert response.status_code == 202, (where, response.content[:300])
                body = response.json()
                assert body["status"] == "rejected" and body["error"], (where, body)
                assert not marker.exists(), f"{where} ran code"
                tried += 1
    assert tried >= 8
    assert not ModelArtifact.objects.filter(name="evil").exclude(status="rejected").exists()
    stored = files_under(tmp_path / "storage" / "models") - before
    assert not stored, f"a refused file was stored: {stored}"
    denied = AuditEvent.objects.filter(action="model.upload", outcome="denied")
    assert denied.count() == tried


def test_every_accepted_suffix_has_payloads_here():
    evil = Reduce(print, "x")
    for suffix in serialization.ACCEPTED_SUFFIXES:
        assert _payloads(suffix, evil, {"manifest.json": b"{}"})
