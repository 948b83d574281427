"""Pure protocol rules of interconnect-operator (no I/O; see DESIGN.md, PROTOCOL.md).

Modules: ``types`` (value types), ``conditions`` (status conditions),
``placement`` (P6-P7), ``allocation`` (P8-P11), ``link_state`` (the link state
machine), ``macsec`` (P26-P31), ``maintenance`` (P24-P25), ``escalation``.
"""
