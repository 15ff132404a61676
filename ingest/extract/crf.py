"""A trained crfsuite model, tagged through crfsuite's C interface with attribute ids.

python-crfsuite takes each token's features as strings: every call copies them into C++ strings and looks
each one up in the model's attribute dictionary, which costs more than tagging itself. Here the dictionary
is read once, into a record per feature (crfsuite's attribute struct: its id and the value 1.0), the
featurizer caches each word's features as records, and a sentence goes to crfsuite's own ``set``,
``viterbi`` and ``marginal_point`` (the functions python-crfsuite calls) as one buffer of records. The
answers are crfsuite's, to the bit: ``tests/test_tagger.py`` compares them with python-crfsuite's.

The C library is the one python-crfsuite's extension module carries (it exports crfsuite's C API). The
structures (``ingest.crf_structs``) are crfsuite 0.12's public ones (``crfsuite.h``); their sizes are checked
at load.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Sequence
from pathlib import Path

from ingest.crf_structs import Dictionary, Float, Instance, Model, Tagger

_SIZES = {"instance": (ctypes.sizeof(Instance), 40)}

#: crfsuite_attribute_t {int aid; floatval_t value;}, 16 bytes: the form a feature takes at tagging time.
_RECORD = struct.Struct("<iid")
#: crfsuite_item_t {int num_contents; int cap_contents; crfsuite_attribute_t *contents;}, as two int64.
_ITEM_WORDS = 2


class CRFError(Exception):
    """The model cannot be opened or used through crfsuite's C interface."""


def _library() -> ctypes.CDLL:
    import pycrfsuite._pycrfsuite as extension

    library = ctypes.CDLL(extension.__file__)
    library.crfsuite_create_instance_from_file.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    library.crfsuite_create_instance_from_file.restype = ctypes.c_int
    return library


def _strings(dictionary: ctypes.c_void_p) -> list[str]:
    """Every string of a crfsuite dictionary, by id."""
    table = ctypes.cast(dictionary, ctypes.POINTER(Dictionary)).contents
    out = []
    for index in range(table.num(dictionary)):
        text = ctypes.c_char_p()
        if table.to_string(dictionary, index, ctypes.byref(text)) != 0 or text.value is None:
            raise CRFError(f"dictionary entry {index} cannot be read")
        out.append(text.value.decode())
        table.free(dictionary, text)
    return out


class CRFModel:
    """One open model and its tagger. Not safe to share between threads: a tagger holds the sentence it was
    last given (callers lock)."""

    def __init__(self, path: Path) -> None:
        for name, (size, expected) in _SIZES.items():
            if size != expected:
                raise CRFError(f"crfsuite's {name} structure is {expected} bytes, here {size}")
        library = _library()
        model = ctypes.c_void_p()
        if library.crfsuite_create_instance_from_file(str(path).encode(), ctypes.byref(model)) != 0:
            raise CRFError(f"{path}: not a crfsuite model")
        self._model = model  # kept open as long as this object lives: the tagger reads from it
        interface = ctypes.cast(model, ctypes.POINTER(Model)).contents
        tagger, labels, attributes = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        if (
            interface.get_tagger(model, ctypes.byref(tagger))
            or interface.get_labels(model, ctypes.byref(labels))
            or interface.get_attrs(model, ctypes.byref(attributes))
        ):
            raise CRFError(f"{path}: crfsuite cannot open its tagger")
        self.labels = _strings(labels)
        #: Attribute text -> its record: the features the model has weights for.
        self.records = {text: _RECORD.pack(aid, 0, 1.0) for aid, text in enumerate(_strings(attributes))}
        self._tagger = tagger
        functions = ctypes.cast(tagger, ctypes.POINTER(Tagger)).contents
        self._set, self._viterbi, self._marginal = functions.set, functions.viterbi, functions.marginal_point
        self._score = Float()
        self._score_pointer = ctypes.byref(self._score)
        self._probability = Float()
        # Buffers for the sentence being tagged, kept and grown as needed.
        self._contents = ctypes.create_string_buffer(1 << 16)
        self._found = (ctypes.c_int * 256)()
        self._items = (ctypes.c_int64 * (_ITEM_WORDS * 256))()
        self._instance = Instance(0, 0, ctypes.addressof(self._items), None, 1.0, 0)
        self._instance_pointer = ctypes.byref(self._instance)
        self._label_ids = {label: index for index, label in enumerate(self.labels)}

    def tag(self, tokens: Sequence[bytes]) -> list[str]:
        """The most likely labels of a sentence given as each token's feature records (``records``), joined;
        the sentence stays set for ``marginal``."""
        count = len(tokens)
        if count == 0:
            return []
        contents = b"".join(tokens)
        address = self._reserve(len(contents), count)
        ctypes.memmove(address, contents, len(contents))
        rows: list[ctypes.c_int64 | int] = [0] * (_ITEM_WORDS * count)
        for index, token in enumerate(tokens):
            size = len(token) >> 4
            rows[2 * index] = size | size << 32
            rows[2 * index + 1] = address
            address += len(token)
        self._items[: _ITEM_WORDS * count] = rows
        self._instance.num_items = self._instance.cap_items = count
        if self._set(self._tagger, self._instance_pointer) or self._viterbi(
            self._tagger, self._found, self._score_pointer
        ):
            raise CRFError("crfsuite could not tag a sentence")
        labels = self.labels
        return [labels[index] for index in self._found[:count]]

    def _reserve(self, size: int, count: int) -> int:
        """The address of room for ``size`` bytes of feature records, with room for ``count`` items."""
        if size > len(self._contents):
            self._contents = ctypes.create_string_buffer(max(size, 2 * len(self._contents)))
        if count > len(self._found):
            capacity = max(count, 2 * len(self._found))
            self._found = (ctypes.c_int * capacity)()
            self._items = (ctypes.c_int64 * (_ITEM_WORDS * capacity))()
            self._instance.items = ctypes.addressof(self._items)
        return ctypes.addressof(self._contents)

    def marginal(self, label: str, position: int) -> float:
        """P(label at position) in the sentence tagged last."""
        if self._marginal(self._tagger, self._label_ids[label], position, ctypes.byref(self._probability)):
            raise CRFError(f"no marginal for {label} at {position}")
        return self._probability.value
