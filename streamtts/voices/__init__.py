"""Voices: loading models from paths or packages, and running them."""
