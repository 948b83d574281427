"""Fault scenarios: providers failing, processes killed, an API server restarted."""
