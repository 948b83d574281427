"""reconcile layer of interconnect-operator (see DESIGN.md)."""
