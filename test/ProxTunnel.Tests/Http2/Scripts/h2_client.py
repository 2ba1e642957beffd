"""Sends requests through a ProxTunnel CONNECT tunnel with Python's h2 (its own HPACK encoder: Huffman, dynamic table).

Usage: h2_client.py PROXY_PORT ROOT_PEM HOST
Prints one line per response: stream id, status, body.
"""
import json
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events

port, root, host = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sock = socket.create_connection(("127.0.0.1", port), timeout=20)
sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = sock.recv(1)
    if not chunk:
        sys.exit("proxy closed during CONNECT")
    head += chunk
assert head.startswith(b"HTTP/1.1 200"), head
context = ssl.create_default_context(cafile=root)
context.set_alpn_protocols(["h2"])
tls = context.wrap_socket(sock, server_hostname=host)
assert tls.selected_alpn_protocol() == "h2", tls.selected_alpn_protocol()

conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
conn.initiate_connection()
common = [("user-agent", "python-h2/" + h2.__version__), ("accept", "application/json"), ("x-repeated", "same-value-every-time")]
streams = {}
for i in range(5):
    sid = conn.get_next_available_stream_id()
    path = f"/item/{i}?q=%20{i}"
    end = i != 4
    conn.send_headers(sid, [(":method", "GET" if end else "POST"), (":scheme", "https"), (":authority", host), (":path", path)] + common, end_stream=end)
    if not end:
        conn.send_data(sid, b"payload")
        conn.send_headers(sid, [("x-trailer", "done")], end_stream=True)
    streams[sid] = [None, b""]
tls.sendall(conn.data_to_send())

done = 0
while done < len(streams):
    data = tls.recv(65536)
    if not data:
        sys.exit("connection closed early")
    for event in conn.receive_data(data):
        if isinstance(event, h2.events.ResponseReceived):
            streams[event.stream_id][0] = dict(event.headers)[":status"]
        elif isinstance(event, h2.events.DataReceived):
            streams[event.stream_id][1] += event.data
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            done += 1
    tls.sendall(conn.data_to_send())

for sid, (status, body) in sorted(streams.items()):
    print(sid, status, json.dumps(json.loads(body)["target"]), json.dumps(json.loads(body)["headers"].get("x-repeated")))
