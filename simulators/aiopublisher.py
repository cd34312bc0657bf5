"""An aiomqtt publisher for the scenario fleets, driven from synchronous code.

aiomqtt (the design's MQTT library for asynchronous publishers that need no manual
acknowledgement) awaits each QoS 1 PUBACK inside ``publish()``, so many messages in flight means
many concurrent publish tasks on an event loop. ``replay`` drives publishers from a plain thread
on a clock, so :class:`AioMqttPublisher` runs its own event loop in a background thread and keeps
the interface of :class:`simulators.publishers.MqttPublisher` (``publish``, ``flush``, ``close``,
``sent``, ``acked``, ``qos``, ``max_inflight``).

Delivery is at least once (QoS 1) and nothing is lost on a connection loss: every message stays
in the publisher's own table until its PUBACK arrives. aiomqtt 2 does not reconnect by itself, and
a publish pending when the connection drops only ends at its timeout; so a watcher on
``client.messages`` (which raises ``MqttError`` when the connection drops) cancels the pending
publishes, the publisher connects again with a fresh ``aiomqtt.Client`` (clean session) and
publishes every unacknowledged message again, in order, before new ones. A message acknowledged
by the broker whose PUBACK was lost is therefore sent twice; ingest stores idempotently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from typing import Any

import aiomqtt

from simulators.publishers import parse_mqtt_url

log = logging.getLogger(__name__)

_Item = tuple[str, bytes, int]


class AioMqttPublisher:
    """Publishes with QoS 1 (or 0) through aiomqtt, up to ``max_inflight`` messages unacknowledged.

    ``publish`` blocks only while ``max_inflight`` messages await their PUBACK (queued ones
    included), so that bound is also the number of concurrent aiomqtt publish tasks. ``flush``
    waits until every message published so far is acknowledged. The constructor raises
    ``ConnectionError`` when the first connection fails; later losses are retried with backoff,
    and after ``give_up_s`` seconds without a connection ``publish`` and ``flush`` raise
    ``ConnectionError``. ``close`` does not flush (like ``MqttPublisher``): call ``flush`` first.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str = "",
        qos: int = 1,
        max_inflight: int = 100,
        mqtt5: bool = False,
        keepalive: int = 60,
        timeout: float = 30.0,
        give_up_s: float = 60.0,
    ) -> None:
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        self._host, self._port, self._user, self._password = parse_mqtt_url(url)
        self.qos = qos
        # paho numbers packets with 16 bits; a mid must not be pending twice
        self.max_inflight = max(1, min(max_inflight, 65000))
        self.client_id = client_id or f"wnsim-aio-{os.getpid()}-{time.monotonic_ns() % 10**9}"
        self._protocol = aiomqtt.ProtocolVersion.V5 if mqtt5 else aiomqtt.ProtocolVersion.V311
        self._keepalive = keepalive
        self._timeout = timeout
        self._give_up_s = give_up_s
        self.sent = 0
        self.acked = 0
        self.connections = 0  # successful connections; more than one means reconnects
        self.resent = 0  # messages published again after a connection loss
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._closed = False
        self._ready = threading.Event()
        # loop-thread state
        self._unacked: dict[int, _Item] = {}
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._down_since: float | None = None
        self._thread = threading.Thread(target=self._run, name="aiomqtt-publisher", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            self._loop.close()
            raise ConnectionError(
                f"MQTT broker {self._host}:{self._port} did not accept the connection: "
                f"{self._error}"
            )

    # -- caller side (any thread) ------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int | None = None) -> None:
        qos = self.qos if qos is None else qos
        with self._cond:
            while self.sent - self.acked >= self.max_inflight and self._usable():
                self._cond.wait(1.0)
            self._check()
            seq = self.sent
            self.sent += 1
        self._loop.call_soon_threadsafe(self._submit, seq, (topic, payload, qos))

    def flush(self, timeout: float = 60.0) -> bool:
        """True once every message published so far is acknowledged, False at ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.acked < self.sent:
                self._check()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join()
        self._loop.close()

    def _usable(self) -> bool:
        return self._error is None and not self._closed

    def _check(self) -> None:
        if self._closed:
            raise ConnectionError("publisher is closed")
        if self._error is not None:
            raise ConnectionError(f"MQTT publisher gave up: {self._error}")

    # -- event loop side ---------------------------------------------------------------------

    def _submit(self, seq: int, item: _Item) -> None:
        self._unacked[seq] = item
        if self._client is not None:
            self._spawn(self._client, seq, item)

    def _spawn(self, client: aiomqtt.Client, seq: int, item: _Item) -> None:
        task = self._loop.create_task(self._send(client, seq, item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, client: aiomqtt.Client, seq: int, item: _Item) -> None:
        topic, payload, qos = item
        try:
            await client.publish(topic, payload, qos=qos, timeout=self._timeout)
        except aiomqtt.MqttError as exc:  # the connection is gone or stalled: reconnect
            if not self._lost.done():
                self._lost.set_result(exc)
            return
        if self._unacked.pop(seq, None) is not None:
            with self._cond:
                self.acked += 1
                self._cond.notify_all()

    async def _watch(self, client: aiomqtt.Client) -> None:
        """Raises MqttError when the connection drops (nothing is subscribed, so no message)."""
        async for _ in client.messages:
            pass

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # never leave the constructor or a caller waiting
            log.exception("MQTT publisher %s stopped", self.client_id)
            self._fail(exc)
        finally:
            self._loop.run_until_complete(self._loop.shutdown_default_executor())

    async def _main(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            self._lost: asyncio.Future[BaseException] = self._loop.create_future()
            client = aiomqtt.Client(
                self._host,
                self._port,
                username=self._user,
                password=self._password,
                identifier=self.client_id,
                protocol=self._protocol,
                keepalive=self._keepalive,
                timeout=self._timeout,
                max_inflight_messages=0,
            )
            client.pending_calls_threshold = self.max_inflight + 1  # else it warns per publish
            try:
                async with client:
                    backoff = 0.1
                    await self._connected(client)
            except aiomqtt.MqttError as exc:
                now = time.monotonic()
                self._down_since = self._down_since or now
                if self.connections == 0 or now - self._down_since > self._give_up_s:
                    self._fail(exc)
                    return
                log.warning(
                    "MQTT publisher %s: %s; reconnecting in %.1fs", self.client_id, exc, backoff
                )
            finally:
                self._client = None
                await self._cancel_tasks()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff)
            backoff = min(backoff * 2, 5.0)

    async def _connected(self, client: aiomqtt.Client) -> None:
        """Publish the unacknowledged backlog, then new messages, until the connection is lost
        (raises MqttError) or the publisher closes (returns, and the client disconnects)."""
        self.connections += 1
        self._down_since = None
        if self.connections > 1:
            self.resent += len(self._unacked)
        self._client = client
        for seq, item in list(self._unacked.items()):
            self._spawn(client, seq, item)
        self._ready.set()
        watcher = self._loop.create_task(self._watch(client))
        stop = self._loop.create_task(self._stop.wait())
        try:
            waiters: list[asyncio.Future[Any]] = [watcher, stop, self._lost]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watcher, stop):
                task.cancel()
            await asyncio.gather(watcher, stop, return_exceptions=True)
        if self._lost.done():
            raise aiomqtt.MqttError(f"publish failed: {self._lost.result()}")
        if watcher.done() and not watcher.cancelled() and watcher.exception() is not None:
            raise aiomqtt.MqttError(f"connection lost: {watcher.exception()}")

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _fail(self, exc: BaseException) -> None:
        with self._cond:
            self._error = exc
            self._cond.notify_all()
        self._ready.set()

    def __enter__(self) -> AioMqttPublisher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
