"""Bundled data: the example batch used by /readyz and the README."""
