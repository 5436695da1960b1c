"""Built-in backends. They register through the ``conformance.backends`` entry point,
the same door third-party plugins use (see pyproject.toml)."""
