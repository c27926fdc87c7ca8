"""Fault tests: crashes (test_crash.py) and concurrent writers (test_concurrency.py).

This folder is a package so that its ``conftest.py`` does not shadow the top-level
``tests/conftest.py`` (both would otherwise be imported as the module ``conftest``, and the
test modules that do ``from conftest import make_id`` would get the wrong one).
"""
