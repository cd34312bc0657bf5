"""Database access: connections, the storage capability probe, partitions and migrations."""
