"""Subcommands: one module each, defining ``register(subparsers)``; light at import."""
