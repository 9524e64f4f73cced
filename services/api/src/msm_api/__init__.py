"""MSM api: REST API with JWT auth and roles."""
