"""Presence: AWS IoT lifecycle events derived from what mosquitto logs on `$SYS/broker/log/#`.

mosquitto 2.0 notices (with `connection_messages true`), after a `<epoch>: ` prefix:

    New client connected from 127.0.0.1:51234 as meter-1 (p5, c1, k30, u'meter-1').
    Client meter-1 disconnected.                       -> CLIENT_INITIATED_DISCONNECT
    Client meter-1 closed its connection.              -> CONNECTION_LOST
    Socket error on client meter-1, disconnecting.     -> CONNECTION_LOST
    Client meter-1 has exceeded timeout, disconnecting. -> MQTT_KEEP_ALIVE_TIMEOUT
    Client meter-1 already connected, closing old connection. -> DUPLICATE_CLIENTID
    Client meter-1 disconnected due to protocol error. / disconnected: <reason>. -> CLIENT_ERROR

`PresenceTracker` turns those into `PresenceEvent`s (msm_common's contract, the payload AWS
publishes). Pure: the caller passes `now`. A connection whose certificate may not use its client
id (`ClientIdPolicy`, what AWS's `iot:Connect` on `client/...` enforces) gets no event: a claim
certificate or another device connecting with a meter's client id never makes that meter appear
online. (mosquitto itself cannot refuse such a connection, so the meter's own session is still
taken over -- its disconnect is reported, as it really happened -- and its reconnect takes the
client id back.) `versionNumber` orders one client's sessions: it starts
from the connect time in milliseconds and only grows, so it survives a localiot restart; the
disconnect of a session carries that session's number, as AWS does.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from msm_common.contracts.presence import PresenceEvent

LOG_TOPIC_FILTER: Final = "$SYS/broker/log/#"

_PREFIX: Final = re.compile(r"^\d+: ")
_CONNECTED: Final = re.compile(
    r"^New client connected from (?P<address>\S+) as (?P<client>.+?) "
    r"\(p\d+, c\d, k\d+(?:, u'(?P<user>[^']*)')?\)\.$"
)
_DISCONNECTS: Final = (
    (re.compile(r"^Client (?P<client>.+?) disconnected\.$"), "CLIENT_INITIATED_DISCONNECT"),
    (re.compile(r"^Client (?P<client>.+?) closed its connection\.$"), "CONNECTION_LOST"),
    (re.compile(r"^Socket error on client (?P<client>.+?), disconnecting\.$"), "CONNECTION_LOST"),
    (
        re.compile(r"^Client (?P<client>.+?) has exceeded timeout, disconnecting\.$"),
        "MQTT_KEEP_ALIVE_TIMEOUT",
    ),
    (
        re.compile(r"^Client (?P<client>.+?) already connected, closing old connection\.$"),
        "DUPLICATE_CLIENTID",
    ),
    (re.compile(r"^Client (?P<client>.+?) disconnected due to .+\.$"), "CLIENT_ERROR"),
    (re.compile(r"^Client (?P<client>.+?) disconnected: .+\.?$"), "CLIENT_ERROR"),
    (re.compile(r"^Client (?P<client>.+?) disconnected, .+\.$"), "AUTH_ERROR"),
)
_TOPIC_SAFE: Final = re.compile(r"[^/+#\x00]{1,128}")
OWN_IDENTITY: Final = "localiot"
CLAIM_IDENTITY: Final = "claim"
CLAIM_CLIENT_PREFIX: Final = "provision-"  # deploy/aws/claim-policy.json: client/provision-*
# Cloud-side identities whose policies name their own client ids (services, the load simulator
# acting as many meters, the tests' observer); everyone else is a device or the claim.
ANY_CLIENT_ID: Final = frozenset(
    {"ingest", "commander", "localiot", "provisioner", "loadgen", "test-observer", "backend"}
)


class ClientIdPolicy:
    """Which client ids a certificate identity (its CN) may connect with, as AWS IoT policies
    put it: a device only as its own thing, the claim certificate only as `provision-*`."""

    def __init__(self, thing_of: Callable[[str], str | None] = lambda _cn: None) -> None:
        self._thing_of = thing_of  # CN of a certificate localiot issued -> its thing

    def allows(self, username: str | None, client_id: str) -> bool:
        if username is None:
            return False
        if username in ANY_CLIENT_ID:
            return True
        if username == CLAIM_IDENTITY:
            return client_id.startswith(CLAIM_CLIENT_PREFIX)
        # A device: CN = thing name (issue-device-cert.sh), or a certificate localiot issued.
        return client_id == username or self._thing_of(username) == client_id


@dataclass(frozen=True)
class Connected:
    client_id: str
    address: str
    username: str | None


@dataclass(frozen=True)
class Disconnected:
    client_id: str
    reason: str


LogNotice = Connected | Disconnected


def parse_log_line(line: str) -> LogNotice | None:
    """The connect or disconnect a mosquitto log line reports, or None for any other line."""
    text = _PREFIX.sub("", line.strip(), count=1)
    match = _CONNECTED.match(text)
    if match:
        return Connected(match["client"], match["address"], match["user"])
    if not text.startswith(("Client ", "Socket error on client ")):
        return None
    for pattern, reason in _DISCONNECTS:
        match = pattern.match(text)
        if match:
            return Disconnected(match["client"], reason)
    return None


@dataclass
class _Session:
    version: int
    session_id: str
    username: str | None
    address: str


class PresenceTracker:
    """Which client ids are connected, with which identity; the lifecycle events that follow."""

    def __init__(
        self, policy: ClientIdPolicy | None = None, *, own_identity: str = OWN_IDENTITY
    ) -> None:
        self._policy = policy or ClientIdPolicy()
        self._own = own_identity
        self._sessions: dict[str, _Session] = {}
        self._last_version: dict[str, int] = {}
        self._kicking: dict[str, str] = {}  # client id -> reason we are about to disconnect it
        self._lock = threading.Lock()

    def observe(self, notice: LogNotice, now_ms: int) -> list[PresenceEvent]:
        """Update the view and return the events to publish (none for our own kick sessions)."""
        if not _TOPIC_SAFE.fullmatch(notice.client_id):
            return []
        with self._lock:
            if isinstance(notice, Connected):
                return self._connected(notice, now_ms)
            return self._disconnected(notice.client_id, notice.reason, now_ms)

    def clients_of(self, username: str) -> list[str]:
        """Client ids currently connected with this certificate identity."""
        with self._lock:
            return sorted(c for c, s in self._sessions.items() if s.username == username)

    def expect_kick(self, client_id: str, reason: str = "SERVER_INITIATED_DISCONNECT") -> None:
        """We are about to take this client id over to drop its connection: report that
        disconnect with `reason`, and stay quiet about our own short session."""
        with self._lock:
            self._kicking[client_id] = reason

    def _connected(self, notice: Connected, now_ms: int) -> list[PresenceEvent]:
        events: list[PresenceEvent] = []
        if notice.client_id in self._kicking and notice.username == self._own:
            # Our own take-over session; its disconnect will be as quiet.
            self._sessions.pop(notice.client_id, None)
            return events
        if notice.client_id in self._sessions:  # the take-over line was missed
            events += self._disconnected(notice.client_id, "DUPLICATE_CLIENTID", now_ms)
        if not self._policy.allows(notice.username, notice.client_id):
            return events  # AWS would have refused the connection: no session, no event
        version = max(now_ms, self._last_version.get(notice.client_id, 0) + 1)
        self._last_version[notice.client_id] = version
        session = _Session(version, uuid.uuid4().hex, notice.username, notice.address)
        self._sessions[notice.client_id] = session
        events.append(
            PresenceEvent(
                client_id=notice.client_id,
                connected=True,
                timestamp=_at(now_ms),
                version_number=version,
                session_identifier=session.session_id,
                principal_identifier=notice.username,
                ip_address=notice.address.rpartition(":")[0] or notice.address,
            )
        )
        return events

    def _disconnected(self, client_id: str, reason: str, now_ms: int) -> list[PresenceEvent]:
        session = self._sessions.pop(client_id, None)
        if session is None:  # our own kick session ending, or a client we never saw connect
            if reason != "DUPLICATE_CLIENTID":
                self._kicking.pop(client_id, None)
            return []
        if client_id in self._kicking:
            # We are dropping this session: however mosquitto words the close (take-over, or a
            # plain disconnect when the client gives up first), the server initiated it.
            reason = self._kicking[client_id]
        return [
            PresenceEvent(
                client_id=client_id,
                connected=False,
                timestamp=_at(now_ms),
                version_number=session.version,
                disconnect_reason=reason,
                session_identifier=session.session_id,
                principal_identifier=session.username,
            )
        ]


def _at(now_ms: int) -> datetime:
    return datetime.fromtimestamp(now_ms / 1000, tz=UTC)
