"""k8s layer of interconnect-operator (see README.md, Architecture)."""
