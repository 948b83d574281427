"""Pure protocol rules of interconnect-operator (no I/O; see README.md and docs/protocol.md).

Modules: ``types`` (value types and shared limits), ``conditions`` (status
conditions, condition types), ``keys`` (P1-P2), ``placement`` (P6-P7),
``allocation`` (P8-P11), ``notifications`` (P14-P15), ``link_state`` (the link
state machine), ``macsec`` (P26-P31), ``maintenance`` (P24-P25), ``escalation``.
"""
