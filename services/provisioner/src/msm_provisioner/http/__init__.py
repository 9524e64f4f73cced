"""The HTTP side: the hook, the admin API, probes and metrics."""
