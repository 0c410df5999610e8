"""Door: ASTM F3548-21 DSS (strategic coordination) under /dss/v1."""
