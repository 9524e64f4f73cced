"""Fleet provisioning by claim: templates, the local CA, certificates, registry and broker."""
