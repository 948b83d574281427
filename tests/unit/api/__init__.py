"""Unit tests of the api layer."""
