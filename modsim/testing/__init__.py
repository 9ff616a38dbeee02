"""Hypothesis strategies shared by the test suite (and usable by downstream projects)."""
