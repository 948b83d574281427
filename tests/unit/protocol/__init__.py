"""Unit tests of the pure protocol layer."""
