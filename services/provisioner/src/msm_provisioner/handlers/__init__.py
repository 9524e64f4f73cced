"""One function per request or message; dependencies come in as `Deps`."""
