# Filled in by the funding work.
