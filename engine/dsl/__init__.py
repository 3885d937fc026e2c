"""The workflow language: YAML workflows and forms, their loader, validator and tools.

Everything here is pure (no database, no network, no clock), so the runtime's
workflow sandbox can pass it through.
"""
