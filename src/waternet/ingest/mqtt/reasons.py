"""MQTT reason codes in words (OASIS MQTT 3.1.1 3.2.2.3, MQTT 5.0 2.4), and the session's errors
that carry them."""

from __future__ import annotations

from waternet.errors import ServiceUnavailable

# CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3)
CONNACK_V3 = {
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
# MQTT 5 reason codes (section 2.4); the failures share one meaning across packet types
REASONS_V5 = {
    0x00: "success",
    0x04: "disconnect with will message",
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8B: "server shutting down",
    0x8C: "bad authentication method",
    0x8D: "keep alive timeout",
    0x8E: "session taken over",
    0x8F: "topic filter invalid",
    0x90: "topic name invalid",
    0x91: "packet identifier in use",
    0x93: "receive maximum exceeded",
    0x94: "topic alias invalid",
    0x95: "packet too large",
    0x96: "message rate too high",
    0x97: "quota exceeded",
    0x98: "administrative action",
    0x99: "payload format invalid",
    0x9A: "retain not supported",
    0x9B: "QoS not supported",
    0x9C: "use another server",
    0x9D: "server moved",
    0x9E: "shared subscriptions not supported",
    0x9F: "connection rate exceeded",
    0xA0: "maximum connect time",
    0xA1: "subscription identifiers not supported",
    0xA2: "wildcard subscriptions not supported",
}


def reason_name(code: int, *, v5: bool, connack: bool = False) -> str:
    """A reason code in words: ``0x87 not authorized``, ``3 server unavailable``."""
    if connack and (not v5 or 0 < code < 0x80):
        # a 3.1.1 broker answers an MQTT 5 CONNECT with a 3.1.1 CONNACK (code 1)
        return f"{code} {CONNACK_V3.get(code, 'unknown return code')}"
    if not v5 and code == 0x80:
        return "0x80 failure"
    return f"0x{code:02x} {REASONS_V5.get(code, 'unknown reason code')}"


class ConnectRefused(ServiceUnavailable, ConnectionRefusedError):
    """The broker answered CONNECT with a refusal (MQTT 5 reason code or 3.1.1 return code,
    ``return_code``; ``code`` is the stable error code of every waternet error)."""

    code = "mqtt_connect_refused"

    def __init__(self, return_code: int, *, v5: bool, reason_string: object = None) -> None:
        self.return_code = return_code
        self.v5 = v5
        self.reason = reason_name(return_code, v5=v5, connack=True)
        extra = f" ({reason_string})" if reason_string else ""
        super().__init__(f"broker refused the connection: {self.reason}{extra}")

    @property
    def wrong_version(self) -> bool:
        """MQTT 5 not spoken there: 0x84, or a 3.1.1 broker's return code 1."""
        return self.return_code == 0x84 or (self.v5 and self.return_code == 1)


class SubscriptionRefused(ServiceUnavailable, ConnectionError):
    """The broker refused a subscription: the worker must not run without it."""

    code = "mqtt_subscription_refused"

    def __init__(self, filters: list[str], codes: list[int], *, v5: bool) -> None:
        self.filters = filters
        self.codes = codes
        words = ", ".join(
            f"{f}: {reason_name(c, v5=v5)}"
            for f, c in zip(filters, codes, strict=False)
            if c >= 0x80
        )
        super().__init__(f"broker refused the subscription ({words})")
