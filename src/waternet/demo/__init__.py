"""Everything `waternet demo` runs on one laptop: the demo city, synthetic networks, embedded
services (PostgreSQL, MQTT broker) and the live runtime with a simulated fleet."""

from __future__ import annotations

from waternet.demo.city import build_demo_city
from waternet.demo.synthetic import synthetic_network

__all__ = ["build_demo_city", "synthetic_network"]
