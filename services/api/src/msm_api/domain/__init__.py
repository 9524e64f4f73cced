"""Pure logic: permissions, cursors, redaction, time ranges, telemetry buckets, commands."""
