"""interconnect-operator: a Kubernetes operator for private cross-cloud links.

It drives the open Connection Coordinator API ("symmetric API") of two providers
to bring up and keep healthy the links declared as MulticloudLink resources.
"""

__version__ = "0.1.0"
