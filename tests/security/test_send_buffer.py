"""The send-buffer cap on daphne's WebSocket protocol (the live test is in
test_live_hostile.py): what it counts, and that the ASGI module installs it."""

from __future__ import annotations

from types import SimpleNamespace

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


def test_a_socket_past_the_cap_is_dropped_and_sent_nothing():
    sent, dropped = [], []
    protocol = SimpleNamespace(
        STATE_CONNECTING=0,
        STATE_OPEN=1,
        state=1,
        client_addr=("127.0.0.1", 1),
        path=b"/ws/chat/x",
        transport=SimpleNamespace(dataBuffer=b"", offset=0, _tempDataLen=0),
        sendMessage=lambda content, binary: sent.append(content),
        dropConnection=lambda abort: dropped.append(abort),
    )
    send = WebSocketProtocol.serverSend
    send(protocol, "hello")
    assert sent == [b"hello"] and not dropped
    protocol.transport._tempDataLen = WebSocketProtocol._send_buffer_limit + 1
    send(protocol, "more")
    assert sent == [b"hello"] and dropped == [True]
