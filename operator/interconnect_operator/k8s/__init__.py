"""k8s layer of interconnect-operator (see DESIGN.md)."""
