"""The pathway's rules as plain Python: the pathway table, the episode fold, the duty rules and days. No I/O."""
