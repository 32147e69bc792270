"""The profile service's domain: pure decide/evolve, value checks and the request catalogue; no I/O."""
