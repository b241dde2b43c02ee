"""Set-up for screen reader users: the module's configuration, and the
``AddModule`` line that tells speech-dispatcher where ``sd_streamtts`` is."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

__all__ = ["install", "module_line", "write_module_config"]

_SYSTEM_CONF = Path("/etc/speech-dispatcher/speechd.conf")
_MODULE_CONF = """\
# sd_streamtts: streamtts as a speech-dispatcher output module.
# The module reads these from its environment, which it gets from
# speech-dispatcher; set them there (e.g. in the systemd user unit) if needed:
#   STREAMTTS_VOICE            a Piper .onnx path or installed voice name
#   STREAMTTS_SPEECHD_LATENCY  sound card buffer in seconds (default 0.02)
#   STREAMTTS_SPEECHD_LOG      log level for this module (default WARNING)
"""


def _module_binary() -> str:
    found = shutil.which("sd_streamtts") or str(Path(sys.executable).parent / "sd_streamtts")
    return str(Path(found).resolve())


def write_module_config(config_dir: Path) -> Path:
    modules = config_dir / "modules"
    modules.mkdir(parents=True, exist_ok=True)
    path = modules / "streamtts.conf"
    path.write_text(_MODULE_CONF)
    return path


def module_line(config: Path) -> str:
    return f'AddModule "streamtts" "{_module_binary()}" "{config.name}"'


def install(config_dir: Path, line: str, *, default: bool) -> Path:
    """Add ``line`` to the user's speechd.conf (a copy of the system's if none)."""
    conf = config_dir / "speechd.conf"
    if not conf.exists():
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(_SYSTEM_CONF.read_text() if _SYSTEM_CONF.exists() else "")
    lines = [
        kept
        for kept in conf.read_text().splitlines()
        if not kept.startswith('AddModule "streamtts"')
        and not (default and kept.strip().startswith("DefaultModule"))
    ]
    lines.append(line)
    if default:
        lines.append("DefaultModule streamtts")
    conf.write_text("\n".join(lines) + "\n")
    return conf
