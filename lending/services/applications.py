# Filled in by the applications work.
