"""Simulated scenes: the demo's parties, zones, operations and traffic, and benchmark scenes."""
