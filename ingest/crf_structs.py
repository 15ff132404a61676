"""crfsuite 0.12's public C structures (``crfsuite.h``) as ctypes declares them, for ``ingest.extract.crf``.

A module of their own, outside ``ingest/extract/``, because every module there is compiled by mypyc, which
cannot compile classes derived from ctypes' own.
"""

from __future__ import annotations

import ctypes
from typing import Any

Float = ctypes.c_double  # crfsuite's floatval_t
_float_pointer = ctypes.POINTER(Float)


class Instance(ctypes.Structure):
    _fields_ = [
        ("num_items", ctypes.c_int),
        ("cap_items", ctypes.c_int),
        ("items", ctypes.c_void_p),
        ("labels", ctypes.c_void_p),
        ("weight", Float),
        ("group", ctypes.c_int),
    ]


_FUNCTION = ctypes.CFUNCTYPE
_self = ctypes.c_void_p
#: The fields every crfsuite interface object starts with: its internals and its reference count.
_COUNTED: list[tuple[str, Any]] = [
    ("internal", ctypes.c_void_p),
    ("nref", ctypes.c_int),
    ("addref", _FUNCTION(ctypes.c_int, _self)),
    ("release", _FUNCTION(ctypes.c_int, _self)),
]


class Tagger(ctypes.Structure):
    _fields_ = [
        *_COUNTED,
        ("set", _FUNCTION(ctypes.c_int, _self, ctypes.POINTER(Instance))),
        ("length", _FUNCTION(ctypes.c_int, _self)),
        ("viterbi", _FUNCTION(ctypes.c_int, _self, ctypes.c_void_p, _float_pointer)),
        ("score", _FUNCTION(ctypes.c_int, _self, ctypes.c_void_p, _float_pointer)),
        ("lognorm", _FUNCTION(ctypes.c_int, _self, _float_pointer)),
        ("marginal_point", _FUNCTION(ctypes.c_int, _self, ctypes.c_int, ctypes.c_int, _float_pointer)),
        ("marginal_path", ctypes.c_void_p),
    ]


class Dictionary(ctypes.Structure):
    _fields_ = [
        *_COUNTED,
        ("get", _FUNCTION(ctypes.c_int, _self, ctypes.c_char_p)),
        ("to_id", _FUNCTION(ctypes.c_int, _self, ctypes.c_char_p)),
        ("to_string", _FUNCTION(ctypes.c_int, _self, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p))),
        ("num", _FUNCTION(ctypes.c_int, _self)),
        ("free", _FUNCTION(None, _self, ctypes.c_char_p)),
    ]


class Model(ctypes.Structure):
    _fields_ = [
        *_COUNTED,
        ("get_tagger", _FUNCTION(ctypes.c_int, _self, ctypes.POINTER(ctypes.c_void_p))),
        ("get_labels", _FUNCTION(ctypes.c_int, _self, ctypes.POINTER(ctypes.c_void_p))),
        ("get_attrs", _FUNCTION(ctypes.c_int, _self, ctypes.POINTER(ctypes.c_void_p))),
        ("dump", ctypes.c_void_p),
    ]
