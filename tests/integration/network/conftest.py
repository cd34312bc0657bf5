from __future__ import annotations

from collections.abc import Iterator

import pytest

from waternet.network import service


@pytest.fixture(autouse=True)
def _fresh_network_cache() -> Iterator[None]:
    service.clear_cache()
    yield
    service.clear_cache()
