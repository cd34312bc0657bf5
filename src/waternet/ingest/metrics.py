"""Prometheus metrics of the ingest path (one registry: the process default)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("waternet_ingest_messages_total", "Messages received", ["source"])
ACCEPTED = Counter("waternet_ingest_readings_accepted_total", "Readings stored (new rows)")
DUPLICATES = Counter(
    "waternet_ingest_readings_duplicate_total", "Readings already stored (redelivery)"
)
QUARANTINED = Counter(
    "waternet_ingest_quarantined_total", "Readings or messages quarantined", ["reason"]
)
BATCH_SIZE = Histogram(
    "waternet_ingest_batch_rows",
    "Rows per committed batch",
    buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 50000),
)
COMMIT_SECONDS = Histogram(
    "waternet_ingest_commit_seconds",
    "Time to write and commit one batch",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LATENCY = Histogram(
    "waternet_ingest_publish_to_commit_seconds",
    "Reading timestamp to commit (readings stamped at publish time)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
QUEUE_DEPTH = Gauge("waternet_ingest_queue_depth", "Messages waiting in memory")
SPOOL_BYTES = Gauge("waternet_ingest_spool_bytes", "Bytes waiting in the local spool")
DB_UP = Gauge("waternet_ingest_database_up", "1 when the last write reached the database")
FASTPATH_FALLBACKS = Counter(
    "waternet_ingest_fastpath_fallbacks_total",
    "Messages the fast path failed on (a bug: see the log) and the general path took",
)
