"""Safe model file formats: what the registry writes, reads and accepts (DESIGN.md section 7).

Stored files are only ever one of two formats:

* `.skops` - a scikit-learn estimator or pipeline, read with `skops.io.loads` and the
  trusted-type list below, which lives in code and is never taken from a file.
* `.mlbundle` - a PyTorch network: one zip archive holding `manifest.json`,
  `architecture.json` (the JSON spec `training.ml.build_mlp` rebuilds the module from),
  `weights.safetensors` and, optionally, `preprocess.skops` (the fitted preprocessing).

Uploads may also be `.pkl` / `.joblib` (scanned with `pickletools`, then read by
`RestrictedUnpickler`, whose `find_class` only returns allow-listed classes, and
re-written as `.skops`) or `.pt` / `.pth` state dicts (scanned, then
`torch.load(weights_only=True)`, re-written as a bundle). Nothing is ever read with
plain `pickle`, `joblib.load` or `torch.load(weights_only=False)`, and no archive is
ever extracted to disk: entries are read into memory within the limits below.
This module imports no Django.
"""

from __future__ import annotations

import _compat_pickle
import io
import json
import math
import pickle
import pickletools
import stat
import types
import zipfile
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from collaboration import safejson

SKOPS_SUFFIX = ".skops"
BUNDLE_SUFFIX = ".mlbundle"
BUNDLE_FORMAT = "medilytica.torch-bundle"
BUNDLE_VERSION = 1
BUNDLE_ENTRIES = ("manifest.json", "architecture.json", "weights.safetensors", "preprocess.skops")
BUNDLE_REQUIRED = ("manifest.json", "architecture.json", "weights.safetensors")

# Types trusted by skops on top of its own defaults (scikit-learn estimators, numpy and
# scipy containers). Each is a plain data holder of a fitted scikit-learn model: a
# tree, a histogram-gradient-boosting predictor, a dtype. Add to it only after reading
# what the type's __setstate__ does; never from get_untrusted_types() output.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # The engine's categorical step (training.ml.preprocessing): text conversion only.
    "training.ml.preprocessing.categories_as_text",
)

# Globals a scikit-learn pickle may name (besides the estimator classes that
# scikit-learn itself lists, see `pickle_trusted_globals`): reconstructors of numpy
# arrays and scalars, random-state constructors and sklearn's internal loss objects.
# No callable here runs a command, opens a file or imports a module by name.
_PICKLE_TRUSTED_EXTRA: frozenset[str] = frozenset(
    {
        "builtins.slice",
        "_codecs.encode",
        "builtins.bytes",
        "builtins.set",
        "builtins.frozenset",
        "builtins.complex",
        "builtins.bytearray",
        "collections.OrderedDict",
        "copyreg._reconstructor",
        "builtins.object",
        "numpy.ndarray",
        "numpy.dtype",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.numeric._frombuffer",
        "numpy.core.numeric._frombuffer",
        "numpy._core.multiarray.scalar",
        "numpy.core.multiarray.scalar",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random.bit_generator.SeedSequence",
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.HalfLogitLink",
        "sklearn._loss.link.LogLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.link.Interval",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.PinballLoss",
        "sklearn._loss.loss.HuberLoss",
        "sklearn._loss.loss.HalfPoissonLoss",
        "sklearn._loss.loss.HalfGammaLoss",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.ExponentialLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss._loss.CyAbsoluteError",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyExponentialLoss",
        "sklearn._loss._loss.__pyx_unpickle_CyHalfMultinomialLoss",
        # joblib writes arrays as a wrapper followed by raw bytes; it is mapped to
        # `_JoblibArray` below, which reads the bytes without pickle.
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "numpy.float64",
        "numpy.float32",
        "numpy.int64",
        "numpy.int32",
        "numpy.bool_",
        "training.ml.preprocessing.categories_as_text",
    }
)

# What a PyTorch state dict names; torch.load(weights_only=True) enforces its own list,
# this one lets the scanner name an offending global before torch is involved.
_TORCH_STORAGES = (
    "Float",
    "Double",
    "Half",
    "BFloat16",
    "Long",
    "Int",
    "Short",
    "Char",
    "Byte",
    "Bool",
)
TORCH_TRUSTED_GLOBALS: frozenset[str] = frozenset(
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        *(f"torch.{name}Storage" for name in _TORCH_STORAGES),
    }
)

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
_TORCH_SUFFIXES = (".pt", ".pth")
ACCEPTED_SUFFIXES = (SKOPS_SUFFIX, BUNDLE_SUFFIX, ".zip", *_PICKLE_SUFFIXES, *_TORCH_SUFFIXES)


class ModelFileError(ValueError):
    """A model file that is malformed or not in an accepted format (a 400 for clients)."""

    code = "invalid_model_file"


class UnsafeModelError(ModelFileError):
    """A model file that names a type outside the trusted lists; nothing was run."""

    code = "untrusted_type"

    def __init__(self, untrusted: Iterable[str], where: str = "") -> None:
        self.untrusted = sorted(set(untrusted))
        place = f" in {where}" if where else ""
        super().__init__(
            f"Refused: the file{place} references untrusted type(s) "
            f"{', '.join(self.untrusted)}; loading it could run code."
        )


# --- zip archives -------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on a zip archive, checked on the central directory before anything is read.

    zipfile stops decompressing at an entry's declared size and checks its CRC, so
    declared sizes bound what reading can produce.
    """

    max_entries: int = 10_000
    max_entry_bytes: int = 1024**3
    max_total_bytes: int = 2 * 1024**3


DEFAULT_LIMITS = ArchiveLimits()


def archive_open(data: bytes, *, limits: ArchiveLimits | None = None) -> zipfile.ZipFile:
    """Open a zip archive held in memory, refusing anything a safe reader should not touch:
    too many entries, oversized entries (per entry and in total, decompressed),
    paths with `..` or absolute paths, symlinks, encrypted or duplicate entries."""
    limits = limits or DEFAULT_LIMITS
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ModelFileError(f"Not a readable zip archive: {exc}.") from None
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise ModelFileError(
            f"The archive has {len(infos)} entries; at most {limits.max_entries} are accepted."
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            raise ModelFileError(f"The archive entry {name!r} has an absolute path.")
        if ".." in parts:
            raise ModelFileError(f"The archive entry {name!r} points outside the archive (..).")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ModelFileError(f"The archive entry {name!r} is a symbolic link.")
        if info.flag_bits & 0x1:
            raise ModelFileError(f"The archive entry {name!r} is encrypted.")
        if name in seen:
            raise ModelFileError(f"The archive holds {name!r} twice.")
        seen.add(name)
        if info.file_size > limits.max_entry_bytes:
            raise ModelFileError(
                f"The archive entry {name!r} is {info.file_size} bytes decompressed; "
                f"at most {limits.max_entry_bytes} are accepted per entry."
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ModelFileError(
                f"The archive decompresses to more than {limits.max_total_bytes} bytes."
            )
    return archive


def _archive_read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError) as exc:
        raise ModelFileError(f"The archive entry {name!r} cannot be read: {exc}.") from None


# --- skops --------------------------------------------------------------------------


def skops_dumps(obj: Any) -> bytes:
    """Serialise a scikit-learn object with skops and check it reads back under the
    trusted list, so nothing is stored that the registry would refuse to load."""
    import skops.io as sio

    data = sio.dumps(obj)
    skops_loads(data)
    return data


def skops_loads(data: bytes, *, where: str = "", limits: ArchiveLimits | None = None) -> Any:
    """Read a .skops file with the trusted-type list held in this module."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    archive_open(data, limits=limits).close()
    try:
        loaded = sio.loads(data, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException:
        # Only to name them: get_untrusted_types parses the schema, it builds nothing.
        found = set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES)
        raise UnsafeModelError(found or ["(unknown)"], where) from None
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        ImportError,
        zipfile.BadZipFile,
    ) as exc:
        raise ModelFileError(f"Not a readable skops file{_in(where)}: {exc}.") from None
    tree_structure_check(loaded)
    return loaded


def _in(where: str) -> str:
    return f" ({where})" if where else ""


# --- tree structures ------------------------------------------------------------------
#
# skops trusts sklearn's Tree and TreePredictor only when told to, because scikit-learn
# follows their node indices without bounds checks: a crafted file loads fine and then
# crashes or reads stray memory at predict time. Every loaded model is walked and each
# tree checked: children inside the array and after their parent (so no cycles), leaves
# marked as leaves, split features inside the input width.


def tree_structure_check(model: Any) -> None:
    """Refuse a model whose tree node arrays point outside themselves."""
    _walk(model, None, set(), depth=0)


def _walk(obj: Any, n_features: int | None, seen: set[int], *, depth: int) -> None:
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    if id(obj) in seen or depth > 50:
        return
    seen.add(id(obj))
    if isinstance(obj, Tree):
        _tree_check(obj, n_features)
    elif isinstance(obj, TreePredictor):
        _predictor_check(obj, n_features)
    elif isinstance(obj, list | tuple):
        for item in obj:
            _walk(item, n_features, seen, depth=depth + 1)
    elif isinstance(obj, dict):
        for item in obj.values():
            _walk(item, n_features, seen, depth=depth + 1)
    elif isinstance(obj, np.ndarray):
        if obj.dtype == object:
            for item in obj.ravel():
                _walk(item, n_features, seen, depth=depth + 1)
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("sklearn."):
        width = getattr(obj, "n_features_in_", n_features)
        for item in vars(obj).values():
            _walk(item, width if isinstance(width, int) else n_features, seen, depth=depth + 1)


def _children_ok(index: np.ndarray, left: np.ndarray, right: np.ndarray, count: int) -> bool:
    return bool(np.all((left > index) & (left < count) & (right > index) & (right < count)))


def _tree_check(tree: Any, n_features: int | None) -> None:
    nodes = tree.__getstate__()["nodes"]
    count = int(tree.node_count)
    width = tree.n_features if n_features is None else min(tree.n_features, n_features)
    if len(nodes) != count or tree.value.shape[0] != count:
        raise ModelFileError("A decision tree's arrays disagree on its node count.")
    index = np.arange(count)
    leaf = nodes["left_child"] == -1
    split = ~leaf
    if not np.all(nodes["right_child"][leaf] == -1) or not _children_ok(
        index[split], nodes["left_child"][split], nodes["right_child"][split], count
    ):
        raise ModelFileError("A decision tree has child links outside the tree.")
    features = nodes["feature"][split]
    if not np.all((features >= 0) & (features < width)):
        raise ModelFileError("A decision tree splits on a feature outside its input.")


def _predictor_check(predictor: Any, n_features: int | None) -> None:
    nodes = predictor.nodes
    count = len(nodes)
    if count == 0 or n_features is None:
        raise ModelFileError("A gradient-boosting tree has no nodes or no input width.")
    split = ~nodes["is_leaf"].astype(bool)
    index = np.arange(count)[split]
    if not _children_ok(index, nodes["left"][split], nodes["right"][split], count):
        raise ModelFileError("A gradient-boosting tree has child links outside the tree.")
    features = nodes["feature_idx"][split]
    if not np.all((features >= 0) & (features < n_features)):
        raise ModelFileError("A gradient-boosting tree splits on a feature outside its input.")
    categorical = split & nodes["is_categorical"].astype(bool)
    bitsets = min(len(predictor.raw_left_cat_bitsets), len(predictor.binned_left_cat_bitsets))
    if not np.all(nodes["bitset_idx"][categorical] < bitsets):
        raise ModelFileError("A gradient-boosting tree points outside its category sets.")


# --- pickles ------------------------------------------------------------------------


def pickle_trusted_globals() -> frozenset[str]:
    """The allow-list for pickles: scikit-learn's own estimator classes (the set skops
    trusts by default) plus the fixed extras above."""
    global _pickle_trusted
    if _pickle_trusted is None:
        from sklearn.utils import all_estimators

        estimators = {
            f"{cls.__module__}.{cls.__qualname__}"
            for _, cls in all_estimators()
            if cls.__module__.startswith("sklearn.")
        }
        _pickle_trusted = frozenset(estimators | _PICKLE_TRUSTED_EXTRA)
    return _pickle_trusted


_pickle_trusted: frozenset[str] | None = None

_STRING_OPS = {
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
    "UNICODE",
    "BINUNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE8",
}
# Opcodes that store the top of the stack in the memo without popping it.
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}


@dataclass
class PickleScan:
    """What a pickle stream would import, found without running it."""

    globals: list[str] = field(default_factory=list)
    complete: bool = True  # False when the stream could not be read to its STOP
    uses_persistent_ids: bool = False
    error: str = ""

    def untrusted(self, trusted: frozenset[str]) -> list[str]:
        return sorted({name for name in self.globals if name not in trusted})


def _qualified(module: str, name: str) -> str:
    """The Python 3 dotted name of a global, as pickle itself maps Python 2 names."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return f"{module}.{name}"


def pickle_scan(data: bytes) -> PickleScan:
    """List every global a pickle would import (GLOBAL, STACK_GLOBAL, INST) with
    `pickletools.genops`, which only parses. STACK_GLOBAL takes its names from the
    stack; they are followed through string pushes and the memo, and an operand that
    cannot be followed is reported as `<unresolved>` (never trusted)."""
    scan = PickleScan()
    # A rough shadow of the stack, enough to know what STACK_GLOBAL pops: the last
    # values pushed, with None for anything that is not a literal string.
    recent: list[str | None] = []
    memo: dict[int, str | None] = {}
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                module, _, qualname = str(arg).partition(" ")
                scan.globals.append(_qualified(module, qualname))
                recent.append(None)
            elif name == "STACK_GLOBAL":
                module, qualname = ([None, None] + recent)[-2:]
                if isinstance(module, str) and isinstance(qualname, str):
                    scan.globals.append(_qualified(module, qualname))
                else:
                    scan.globals.append("<unresolved>")
                del recent[-2:]
                recent.append(None)
            elif name in _STRING_OPS:
                recent.append(arg if isinstance(arg, str) else None)
            elif name in _PUT_OPS:
                memo[int(arg)] = recent[-1] if recent else None
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in _GET_OPS:
                recent.append(memo.get(int(arg)))
            elif name in ("PERSID", "BINPERSID"):
                scan.uses_persistent_ids = True
                recent.append(None)
            elif name in ("EXT1", "EXT2", "EXT4"):
                scan.globals.append(f"<extension {arg}>")
                recent.append(None)
            elif name not in ("PROTO", "FRAME", "STOP"):
                recent.append(None)
            del recent[:-8]
    except (ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
        scan.complete = False
        scan.error = str(exc)
    return scan


class _Inert:
    """What the dry-run scanner returns for every global: constructing, building or
    filling it does nothing, so a scan runs no code of the file's choosing."""

    qualified = "<inert>"

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass

    def add(self, value: Any) -> None:
        pass


class _JoblibArray:
    """Stands in for joblib's NumpyArrayWrapper: after its state is set, the array's
    raw bytes that follow in the file are read here with numpy, never with pickle."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise ModelFileError("A joblib array has an unexpected layout.")
        self.__dict__.update(state)

    def read(self, unpickler: Any) -> Any:
        """Read the array bytes after the wrapper. Object arrays are a nested pickle,
        read by a fresh unpickler of the same kind (restricted or dry-run)."""
        handle: io.BytesIO = unpickler.handle
        dtype = self.__dict__.get("dtype")
        shape = self.__dict__.get("shape")
        subclass = self.__dict__.get("subclass")
        if not isinstance(dtype, np.dtype):
            raise ModelFileError("A joblib array has no valid dtype.")
        if getattr(subclass, "qualified", subclass) not in (np.ndarray, "numpy.ndarray"):
            raise ModelFileError("A joblib array has an unexpected layout.")
        if not isinstance(shape, tuple) or not all(
            isinstance(dim, int) and dim >= 0 for dim in shape
        ):
            raise ModelFileError("A joblib array has an invalid shape.")
        if dtype.hasobject:
            return unpickler.nested()
        if self.__dict__.get("numpy_array_alignment_bytes") is not None:
            padding = handle.read(1)
            handle.read(int.from_bytes(padding, "little") if padding else 0)
        size = math.prod(shape) * dtype.itemsize
        remaining = len(handle.getbuffer()) - handle.tell()
        if size > remaining:
            raise ModelFileError("A joblib array is larger than the file.")
        array = np.frombuffer(handle.read(size), dtype=dtype).copy()
        if self.__dict__.get("order") == "F":
            return array.reshape(shape[::-1]).transpose()
        return array.reshape(shape)


class _DryRunUnpickler(pickle._Unpickler):
    """Walks a joblib file the way joblib writes it (pickle opcodes with raw array bytes
    in between, which `pickletools` cannot step over) and records every global,
    while each global is replaced by an inert stand-in. Only numpy dtypes are real."""

    def __init__(self, handle: io.BytesIO, seen: list[str] | None = None) -> None:
        super().__init__(handle)
        self.handle = handle
        self.seen: list[str] = [] if seen is None else seen
        self._inert: dict[str, type] = {}

    def nested(self) -> Any:
        _DryRunUnpickler(self.handle, self.seen).load()
        return _Inert()

    def find_class(self, module: str, name: str) -> Any:
        qualified = _qualified(module, name)
        self.seen.append(qualified)
        if qualified == "numpy.dtype":
            return np.dtype
        if qualified == "joblib.numpy_pickle.NumpyArrayWrapper":
            return _JoblibArray
        if qualified not in self._inert:
            self._inert[qualified] = type("Inert", (_Inert,), {"qualified": qualified})
        return self._inert[qualified]

    def persistent_load(self, pid: Any) -> Any:
        self.seen.append("<persistent id>")
        return _Inert()

    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if func is np.dtype and all(isinstance(arg, (str, bool, int)) for arg in args):
            self.stack[-1] = np.dtype(*args)
        elif func is _JoblibArray:
            self.stack[-1] = _JoblibArray()
        else:
            self.stack[-1] = _Inert()

    def load_build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, _JoblibArray):
            target.__setstate__(state)
            self.stack[-1] = target.read(self)
        elif isinstance(target, np.dtype):
            target.__setstate__(state)

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.REDUCE[0]] = load_reduce


def joblib_scan(data: bytes) -> PickleScan:
    """List every global an uncompressed joblib file would import, without running it."""
    walker = _DryRunUnpickler(io.BytesIO(data))
    scan = PickleScan()
    try:
        walker.load()
    except Exception as exc:  # noqa: BLE001 - any failure of a dry run means "cannot scan"
        scan.complete = False
        scan.error = str(exc)[:300]
    scan.globals = walker.seen
    scan.uses_persistent_ids = "<persistent id>" in walker.seen
    return scan


_UNBUILDABLE = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler that only ever returns allow-listed classes and functions.

    This is not plain pickle: `find_class` is the single place where a pickle turns a
    name into something callable, and here it refuses every name outside the
    allow-list before anything is built. It also refuses persistent ids, BUILD on
    classes or functions (which would patch them process-wide), and array
    constructors asked for more memory than the file could fill. The pure-Python
    unpickler is used so joblib's inline array bytes can be read without pickle.
    """

    def __init__(self, handle: io.BytesIO, *, trusted: frozenset[str]) -> None:
        super().__init__(handle)
        self.handle = handle
        self._trusted = trusted
        self._limit = len(handle.getbuffer())

    def nested(self) -> np.ndarray:
        array = RestrictedUnpickler(self.handle, trusted=self._trusted).load()
        if not isinstance(array, np.ndarray):
            raise ModelFileError("A joblib object array is not an array.")
        return array

    def find_class(self, module: str, name: str) -> Any:
        qualified = _qualified(module, name)
        if qualified not in self._trusted:
            raise UnsafeModelError([qualified])
        if qualified == "joblib.numpy_pickle.NumpyArrayWrapper":
            return _JoblibArray
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise ModelFileError("The pickle uses persistent ids; it is not a scikit-learn model.")

    def load_build(self) -> None:
        target = self.stack[-2] if len(self.stack) >= 2 else None
        if isinstance(target, _UNBUILDABLE):
            raise ModelFileError("The pickle tries to modify a class or function.")
        super().load_build()
        if isinstance(self.stack[-1], _JoblibArray):
            self.stack[-1] = self.stack[-1].read(self)

    def load_reduce(self) -> None:
        func, args = self.stack[-2], self.stack[-1]
        if func is np.ndarray:
            raise ModelFileError("The pickle constructs a raw array buffer.")
        if getattr(func, "__name__", "") == "_reconstruct" and len(args) >= 2:
            shape = args[1]
            if not isinstance(shape, tuple) or int(np.prod(shape or (1,))) > self._limit:
                raise ModelFileError("The pickle declares an array larger than the file.")
        super().load_reduce()

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.REDUCE[0]] = load_reduce


def pickle_load_restricted(data: bytes, *, where: str = "") -> Any:
    """Read a scikit-learn pickle (or an uncompressed joblib file) safely, or refuse it
    naming every untrusted global it would import."""
    trusted = pickle_trusted_globals()
    scan = pickle_scan(data)
    if "joblib.numpy_pickle.NumpyArrayWrapper" in scan.globals:
        # Raw array bytes follow joblib's wrappers; only a walk that reads them can
        # see the globals behind the first array.
        scan = joblib_scan(data)
    untrusted = scan.untrusted(trusted)
    if untrusted:
        raise UnsafeModelError(untrusted, where)
    if not scan.complete:
        raise ModelFileError(
            f"The file cannot be scanned as a pickle ({scan.error}). Compressed joblib "
            "files cannot be scanned: save with joblib.dump(..., compress=0) or use skops."
        )
    if scan.uses_persistent_ids:
        raise ModelFileError("The pickle uses persistent ids; it is not a scikit-learn model.")
    if len(data) < 2 or data[0] != pickle.PROTO[0] or data[1] < 2:
        raise ModelFileError("Only pickles of protocol 2 or later are accepted.")
    # The scan and the unpickler share one allow-list: find_class enforces it again.
    try:
        loaded = RestrictedUnpickler(io.BytesIO(data), trusted=trusted).load()
    except ModelFileError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
        ImportError,
        MemoryError,
        OverflowError,
    ) as exc:
        raise ModelFileError(f"The pickle cannot be read: {exc}.") from None
    tree_structure_check(loaded)
    return loaded


# --- torch --------------------------------------------------------------------------


def torch_state_dict_loads(data: bytes, *, limits: ArchiveLimits | None = None) -> dict:
    """Read a `.pt` / `.pth` state dict: scan its pickle, then torch.load(weights_only=True)."""
    import torch

    if not zipfile.is_zipfile(io.BytesIO(data)):
        scan = pickle_scan(data)
        untrusted = scan.untrusted(TORCH_TRUSTED_GLOBALS)
        if untrusted:
            raise UnsafeModelError(untrusted)
        raise ModelFileError(
            "Legacy (non-zip) torch files are not accepted; save with torch.save(state_dict)."
        )
    archive = archive_open(data, limits=limits)
    pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
    if len(pickles) != 1:
        raise ModelFileError("Not a torch.save file: expected one data.pkl entry.")
    untrusted = pickle_scan(_archive_read(archive, pickles[0])).untrusted(TORCH_TRUSTED_GLOBALS)
    if untrusted:
        raise UnsafeModelError(untrusted)
    try:
        state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, TypeError) as exc:
        raise ModelFileError(f"Not a loadable torch state dict: {str(exc)[:300]}.") from None
    if not isinstance(state, dict) or not state:
        raise ModelFileError("The torch file does not hold a state dict (name -> tensor).")
    bad = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if bad or not all(isinstance(key, str) for key in state):
        raise ModelFileError(f"The state dict holds non-tensor entries: {bad[:5]}.")
    return dict(state)


def spec_fits_weights(spec: dict, state: dict) -> None:
    """Refuse a (validated) network spec whose layers need more weights than the file
    holds, before anything is allocated: the file's size bounds what building costs."""
    widths = [spec["input_size"], *spec["hidden_layers"], spec["output_size"]]
    needed = sum(a * b for a, b in zip(widths, widths[1:], strict=False))
    given = sum(int(value.numel()) for value in state.values())
    if needed > given:
        raise ModelFileError(
            f"The architecture needs at least {needed} weights; the file holds {given}."
        )


def state_dict_check(module: Any, state: dict) -> None:
    """Refuse a state dict whose keys or shapes differ from the module's."""
    expected = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    given = {key: tuple(value.shape) for key, value in state.items()}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected)}")
    if wrong:
        problems.append(
            "wrong shape " + ", ".join(f"{k} {given[k]} (expected {expected[k]})" for k in wrong)
        )
    if problems:
        raise ModelFileError(
            "The weights do not match the architecture: " + "; ".join(problems) + "."
        )


# --- torch bundles ------------------------------------------------------------------


@dataclass
class TorchBundle:
    manifest: dict
    architecture: dict
    state_dict: dict
    preprocess: Any = None


def bundle_dumps(
    *, manifest: dict, architecture: dict, state_dict: dict, preprocess: Any = None
) -> bytes:
    from safetensors.torch import save as safetensors_save

    tensors = OrderedDict(
        (key, value.detach().cpu().contiguous()) for key, value in state_dict.items()
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "manifest.json",
            json.dumps({**manifest, "format": BUNDLE_FORMAT, "version": BUNDLE_VERSION}),
        )
        archive.writestr("architecture.json", json.dumps(architecture))
        archive.writestr("weights.safetensors", safetensors_save(tensors))
        if preprocess is not None:
            archive.writestr("preprocess.skops", skops_dumps(preprocess))
    return buffer.getvalue()


def bundle_loads(data: bytes, *, limits: ArchiveLimits | None = None) -> TorchBundle:
    """Read a torch bundle: only the known entries, each with its own safe reader."""
    from safetensors import SafetensorError
    from safetensors.torch import load as safetensors_load

    archive = archive_open(data, limits=limits)
    names = set(archive.namelist())
    unknown = sorted(names - set(BUNDLE_ENTRIES))
    if unknown:
        raise ModelFileError(f"Unexpected entries in the model bundle: {', '.join(unknown)}.")
    missing = [name for name in BUNDLE_REQUIRED if name not in names]
    if missing:
        raise ModelFileError(f"The model bundle lacks {', '.join(missing)}.")
    manifest = _json_entry(archive, "manifest.json")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise ModelFileError(f"manifest.json does not declare format {BUNDLE_FORMAT!r}.")
    architecture = _json_entry(archive, "architecture.json")
    try:
        state_dict = safetensors_load(_archive_read(archive, "weights.safetensors"))
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"weights.safetensors is not a safetensors file: {exc}.") from None
    preprocess = None
    if "preprocess.skops" in names:
        preprocess = skops_loads(
            _archive_read(archive, "preprocess.skops"), where="preprocess.skops", limits=limits
        )
    return TorchBundle(manifest, architecture, dict(state_dict), preprocess)


def _json_entry(archive: zipfile.ZipFile, name: str) -> dict:
    try:
        value = safejson.loads(_archive_read(archive, name))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{name} is not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{name} must hold a JSON object.")
    return value
