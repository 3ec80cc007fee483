"""Integration tests: a real `gdlab serve` subprocess, spoken to with requests only."""
