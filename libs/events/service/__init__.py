"""What every service stands on: settings, logs, traces, errors, health, and the runtime."""
