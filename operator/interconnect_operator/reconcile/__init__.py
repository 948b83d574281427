"""Reconcile layer: read both providers, decide with protocol/, act through api/.

Modules: ``pool`` (one pool's clients and bulk snapshot), ``snapshot`` (the
bulk reads), ``views`` (per-link reads of the snapshot, guidance views),
``link`` (the link reconciler), ``channels``, ``macsec``, ``maintenance``,
``escalation``. No Kubernetes imports (README.md, Architecture).
"""
