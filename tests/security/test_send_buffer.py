"""The send-buffer cap on daphne's WebSocket protocol (the live test is in
test_live_hostile.py): what it counts, and that the ASGI module installs it."""

from __future__ import annotations

from types import SimpleNamespace

from autobahn.exception import Disconnected
from daphne.ws_protocol import WebSocketProtocol

from medilytica_site import ws_send_buffer


def test_pending_bytes_counts_both_of_twisteds_buffers():
    transport = SimpleNamespace(dataBuffer=b"x" * 100, offset=30, _tempDataLen=50)
    assert ws_send_buffer.pending_bytes(transport) == 120
    assert ws_send_buffer.pending_bytes(SimpleNamespace()) == 0


def test_the_asgi_module_installs_the_cap(settings):
    import medilytica_site.asgi  # noqa: F401 - installs it, as daphne's import does

    assert WebSocketProtocol._send_buffer_limit == settings.WS_SEND_BUFFER_LIMIT > 0
    assert WebSocketProtocol.serverSend.__name__ == "server_send"


def _protocol(sent: list, dropped: list) -> SimpleNamespace:
    """What server_send reads of daphne's protocol; sendMessage is autobahn's rule."""
    protocol = SimpleNamespace(
        STATE_CLOSED=WebSocketProtocol.STATE_CLOSED,
        STATE_CONNECTING=WebSocketProtocol.STATE_CONNECTING,
        STATE_CLOSING=WebSocketProtocol.STATE_CLOSING,
        STATE_OPEN=WebSocketProtocol.STATE_OPEN,
        state=WebSocketProtocol.STATE_OPEN,
        client_addr=("127.0.0.1", 1),
        path=b"/ws/chat/x",
        transport=SimpleNamespace(dataBuffer=b"", offset=0, _tempDataLen=0),
        dropConnection=lambda abort: dropped.append(abort),
    )

    def send_message(content, binary):
        if protocol.state != WebSocketProtocol.STATE_OPEN:
            raise Disconnected("Attempt to send on a closed protocol")
        sent.append(content)

    protocol.sendMessage = send_message
    return protocol


def test_a_socket_past_the_cap_is_dropped_and_sent_nothing():
    sent, dropped = [], []
    protocol = _protocol(sent, dropped)
    send = WebSocketProtocol.serverSend
    send(protocol, "hello")
    assert sent == [b"hello"] and not dropped
    protocol.transport._tempDataLen = WebSocketProtocol._send_buffer_limit + 1
    send(protocol, "more")
    assert sent == [b"hello"] and dropped == [True]


def test_a_frame_for_a_client_that_is_leaving_is_dropped_not_raised():
    """Autobahn raises on a closing socket, and the consumer that sent would die with
    a traceback (django/channels#1820): a chat line that went out as its client left."""
    sent, dropped = [], []
    protocol = _protocol(sent, dropped)
    for state in (WebSocketProtocol.STATE_CLOSING, WebSocketProtocol.STATE_CLOSED):
        protocol.state = state
        WebSocketProtocol.serverSend(protocol, "too late")
    assert sent == [] and dropped == []
