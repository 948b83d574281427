"""The benchmark harness (``make bench``): throughput, latency, memory and calls per link."""
