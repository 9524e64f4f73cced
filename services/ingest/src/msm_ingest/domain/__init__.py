"""Pure ingest logic: batch assembly, device and presence updates, quarantine records, events.

Nothing here does I/O or reads a clock: callers pass `now` and received times.
"""
