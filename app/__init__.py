"""dsct: a scheduling microservice for deep-learning inference with compressible tasks."""

__version__ = "0.1.0"
