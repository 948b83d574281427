"""The kit's scenarios: each runs a group of checks of the catalog in order.

- :mod:`.discovery`: reads (environment, channels, pagination, 404, identity,
  capacity, MACsec and maintenance as read) and activation keys (P3);
- :mod:`.lifecycle`: a connection's life with its features (P6-P22);
- :mod:`.channels`: MACsec manager rules (P27, P30);
- :mod:`.issues`: the Issues API;
- :mod:`.sweeps`: checks over every exchange of the run (names, status
  codes, schemas).
"""
