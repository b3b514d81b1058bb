"""Suite-wide setup."""

# Imported before any test runs: pytest rewrites the modules of its plugins as they are
# imported, and CPython 3.11 can raise "AST constructor recursion depth mismatch" when it
# parses one late, at the session's end, after tests have used threads (gh-106905).
import hypothesis  # noqa: F401
