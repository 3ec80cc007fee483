"""Shared test configuration."""

# tests/golden holds data and a verbatim copy of the course script, which runs (and draws
# with pyplot) when imported: never collect it.
collect_ignore = ["golden"]
