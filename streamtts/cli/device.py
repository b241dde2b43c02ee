"""The flags a small device needs, shared by ``speak`` and ``serve``:
weight precision, threads per model part, and the setting that combines
them (``--small-device``: int8 weights, one thread)."""

from __future__ import annotations

import argparse
import os

from ..voices.options import PRECISIONS, VoiceOptions

__all__ = ["add_arguments", "voice_options"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = VoiceOptions()
    group = parser.add_argument_group(
        "device", "for a small device (a watch, a phone, a Raspberry Pi: one slow core)"
    )
    group.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=os.environ.get("STREAMTTS_PRECISION", defaults.precision),
        help="weights: fp32 (as published) or int8 (made once and cached; half the memory and "
        "about 0.7x the CPU; chunked audio still equals whole) (default %(default)s, "
        "or $STREAMTTS_PRECISION)",
    )
    group.add_argument(
        "--threads",
        type=int,
        default=defaults.threads,
        metavar="N",
        help="onnxruntime threads for each model part; 1 keeps synthesis on one core "
        "(default: $STREAMTTS_ORT_THREADS, else 2)",
    )
    group.add_argument(
        "--small-device",
        action="store_true",
        help="int8 weights on one thread: --precision int8 --threads 1",
    )


def voice_options(args: argparse.Namespace) -> VoiceOptions:
    """How the voice is loaded, from the flags (a bad value is refused here)."""
    if args.small_device:
        return VoiceOptions.small_device()
    return VoiceOptions(precision=args.precision, threads=args.threads)
