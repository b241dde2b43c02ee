"""The one door to libespeak-ng (from the espeakng-loader wheel), via ctypes.

espeak-ng keeps global state (the current voice, the text pointer of a
clause in progress), so it is not thread-safe. The library handle lives only
in this module and every call runs under one process-wide lock, held for a
whole text: no caller can interleave two texts or race a voice change.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import PhonemizerError

__all__ = ["RawClause", "espeak_clauses", "espeak_version", "espeak_word_starts"]

_log = logging.getLogger(__name__)

_AUDIO_OUTPUT_SYNCHRONOUS = 2  # no audio thread: we only ask for phonemes
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit()
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02

_POS_CHARACTER = 1
_PARAMETER_RATE = 1
# The word-event pass synthesizes audio only to be told where words are;
# at 449 words a minute (the fastest rate without the sonic speed-up, which
# costs more) that audio is a third as long: ~2 ms for a 20-word sentence
# instead of ~4 at the default 175. Word boundaries do not depend on rate.
_WORD_PASS_RATE = 449
_DEFAULT_RATE = 175
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_current_voice: str | None = None


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """espeak_EVENT from speak_lib.h."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)
# Word positions of the synthesis in progress; only touched under _lock.
_word_starts: list[int] = []


def _collect_words(_wave: object, _samples: int, events: ctypes.Array[_Event]) -> int:
    index = 0
    while events[index].type != _EVENT_LIST_TERMINATED:
        if events[index].type == _EVENT_WORD:
            _word_starts.append(events[index].text_position - 1)  # 1-based characters
        index += 1
    return 0  # go on: every word's event is wanted


# Kept referenced for the library's lifetime: espeak holds the pointer.
_collect_words_callback = _SynthCallback(_collect_words)


@dataclass(frozen=True)
class RawClause:
    """What espeak said for one clause.

    ``consumed`` is the text the call advanced over: the clause, its
    terminator, and usually a little of the next clause (espeak reads ahead),
    as byte offsets into the UTF-8 text.
    """

    phonemes: str
    consumed_start_byte: int
    consumed_end_byte: int
    at_end: bool


def _load() -> ctypes.CDLL:
    global _lib
    if _lib is not None:
        return _lib
    try:
        import espeakng_loader
    except ImportError as err:  # pragma: no cover - a broken install
        raise PhonemizerError(
            "the espeakng-loader package is missing; reinstall streamtts "
            "(pip install --force-reinstall streamtts)"
        ) from err
    lib_path = espeakng_loader.get_library_path()
    try:
        lib = ctypes.CDLL(lib_path)
    except OSError as err:
        raise PhonemizerError(
            f"cannot load libespeak-ng from {lib_path}: {err}; "
            "reinstall espeakng-loader (pip install --force-reinstall espeakng-loader)"
        ) from err
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_TextToPhonemes.argtypes = [
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_int,
        ctypes.c_int,
    ]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,  # text
        ctypes.c_size_t,  # size
        ctypes.c_uint,  # position
        ctypes.c_int,  # position_type
        ctypes.c_uint,  # end_position
        ctypes.c_uint,  # flags
        ctypes.POINTER(ctypes.c_uint),  # unique_identifier
        ctypes.c_void_p,  # user_data
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    lib.espeak_Info.restype = ctypes.c_char_p
    # espeak_Initialize wants the folder that *contains* espeak-ng-data.
    data_parent = str(Path(espeakng_loader.get_data_path()).parent)
    rate = lib.espeak_Initialize(
        _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent.encode(), _INITIALIZE_DONT_EXIT
    )
    if rate <= 0:
        raise PhonemizerError(
            f"libespeak-ng failed to initialise with data in {data_parent}; "
            "reinstall espeakng-loader"
        )
    lib.espeak_SetSynthCallback(_collect_words_callback)
    _lib = lib
    return lib


def _select_voice(lib: ctypes.CDLL, voice: str) -> None:
    global _current_voice
    if voice == _current_voice:
        return
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise PhonemizerError(
            f"espeak-ng has no voice {voice!r}; use a language code such as 'en-us' "
            "(the voice's .onnx.json names it under espeak.voice)"
        )
    _current_voice = voice


def espeak_clauses(text: str, voice: str) -> list[RawClause]:
    """Phonemize ``text`` (no NUL characters) clause by clause, in IPA."""
    data = text.encode("utf-8")
    with _lock:
        lib = _load()
        _select_voice(lib, voice)
        buffer = ctypes.create_string_buffer(data)
        base = ctypes.addressof(buffer)
        pointer = ctypes.c_void_p(base)
        clauses: list[RawClause] = []
        # espeak keeps read-ahead text buffered: keep calling until it says
        # the text is done (NULL pointer), or the next text would get it.
        for _ in range(len(data) + 2):
            if pointer.value is None:
                break
            start = min(pointer.value - base, len(data))
            result = lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _PHONEMES_IPA)
            at_end = pointer.value is None
            end = len(data) if at_end else min(pointer.value - base, len(data))
            phonemes = result.decode("utf-8", errors="replace") if result else ""
            clauses.append(RawClause(phonemes, start, end, at_end))
        else:  # pragma: no cover - espeak always finishes within that many calls
            _log.warning("espeak did not finish a %d-byte text; output may be cut", len(data))
        return clauses


def espeak_word_starts(text: str, voice: str) -> list[int] | None:
    """Where each word espeak speaks starts in ``text`` (character offsets).

    espeak joins some words into one sound ("of the" is one phonetic word,
    ʌvðə) and reads some tokens as several ("$3.50" is five); only its own
    word events say which text each spoken word stands for. They come from
    a synthesis pass whose audio is thrown away (~0.5-2 ms a sentence); the
    phonemes still come from ``espeak_clauses``. There is one event per
    space-separated word of the phoneme string, in order. None if espeak
    refuses the text.
    """
    data = text.encode("utf-8")
    with _lock:
        lib = _load()
        _select_voice(lib, voice)
        _word_starts.clear()
        buffer = ctypes.create_string_buffer(data)
        lib.espeak_SetParameter(_PARAMETER_RATE, _WORD_PASS_RATE, 0)
        try:
            status = lib.espeak_Synth(
                buffer, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
        finally:
            lib.espeak_SetParameter(_PARAMETER_RATE, _DEFAULT_RATE, 0)
        starts = list(_word_starts)
        _word_starts.clear()
    if status != 0:
        _log.debug("espeak_Synth refused a %d-byte text (status %d)", len(data), status)
        return None
    return starts


def espeak_version() -> str:
    with _lock:
        lib = _load()
        return (lib.espeak_Info(None) or b"?").decode()
