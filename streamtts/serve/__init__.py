"""Doors: servers that turn network protocols into engine calls."""
