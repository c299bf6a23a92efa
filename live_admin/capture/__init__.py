"""What changed: snapshots of loaded values, the model observers, the per-transaction record of
changes with its one coalescing rule, and ``notify()`` / ``batch()`` for writes the ORM does not
signal."""
