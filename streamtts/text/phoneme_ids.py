"""Phoneme symbols → a voice's ids, with Piper's framing.

Piper frames a segment as ``^ _ s1 _ s2 _ … sn _ $``: a start id, a pad
after the start and after every symbol, and an end id. The pad gives the
model room between phonemes; the duration predictor gives pads frames too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["BOS", "EOS", "PAD", "PhonemeIds", "has_sound", "to_phoneme_ids"]

_log = logging.getLogger(__name__)

BOS = "^"
EOS = "$"
PAD = "_"


@dataclass(frozen=True)
class PhonemeIds:
    """Ids for the model, and where each symbol's ids start.

    ``symbol_starts[k]`` is the index in ``ids`` of symbol k's first id (its
    pad follows it); ``symbol_starts[n]`` is the index of the end id. A
    symbol the voice does not know has no ids: its start equals the next.
    """

    ids: np.ndarray  # int64 [n_ids]
    symbol_starts: np.ndarray  # int64 [n_symbols + 1]

    def __repr__(self) -> str:
        return f"PhonemeIds(n_ids={len(self.ids)}, n_symbols={len(self.symbol_starts) - 1})"


def to_phoneme_ids(symbols: Sequence[str], id_map: Mapping[str, Sequence[int]]) -> PhonemeIds:
    ids: list[int] = [*id_map[BOS], *id_map[PAD]]
    pad = list(id_map[PAD])
    starts: list[int] = []
    for symbol in symbols:
        starts.append(len(ids))
        mapped = id_map.get(symbol)
        if mapped is None:
            _log.debug("skipping symbol %r (U+%04X): not in the voice's map", symbol, ord(symbol))
            continue
        ids.extend(mapped)
        ids.extend(pad)
    starts.append(len(ids))
    ids.extend(id_map[EOS])
    return PhonemeIds(np.asarray(ids, dtype=np.int64), np.asarray(starts, dtype=np.int64))


# Symbols that make no sound of their own: spaces and clause punctuation.
_SILENT_SYMBOLS = frozenset(" ,.?!;:")


def has_sound(symbols: Sequence[str], id_map: Mapping[str, Sequence[int]]) -> bool:
    """True when some symbol is a phoneme the voice can say (not just pauses)."""
    return any(s in id_map and s not in _SILENT_SYMBOLS for s in symbols)
