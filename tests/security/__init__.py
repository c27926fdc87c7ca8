"""Security tests (issue #20): each drives a real server on 127.0.0.1 and keeps one promise of
the README's security section. A package, like ``tests/faults``, so that helpers shared here do
not shadow the top-level ``conftest``."""
