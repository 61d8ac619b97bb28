"""Machinery shared by the capability packages: group offsets, console output, atomic writes,
provenance, cache paths and lazy exports. Nothing here is public API."""
