"""Unit tests of the reconcile layer (against scripted peers)."""
