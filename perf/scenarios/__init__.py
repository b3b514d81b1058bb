"""Benchmark scenarios; each module has ``main(**params) -> dict`` of JSON-able results."""
