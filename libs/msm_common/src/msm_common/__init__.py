"""MSM shared library: settings, contracts, topics, adapters."""
