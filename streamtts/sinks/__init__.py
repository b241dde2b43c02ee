"""Where audio goes: WAV and raw files or pipes, the sound card, callers."""
