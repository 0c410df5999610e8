"""The pure core: plain functions over plain data, no I/O, no clock, no environment."""
