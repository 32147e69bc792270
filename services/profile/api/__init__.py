"""HTTP API of the profile service, mounted at /api/profile. Handlers stay short."""
