#!/usr/bin/python3
"""Raw HTTP/2 frames over a CONNECT+TLS tunnel (or a direct TLS connection) for edge and hostile cases.

Built on hyperframe and hpack (shipped with Debian's python3-h2) rather than h2's state machine, so a scenario can
write any frame sequence: padding, priority, CONTINUATION splits, table-size updates, floods.

usage: h2_frames.py SCENARIO --port P [--proxy] --host H --cafile ROOT.pem
Prints one JSON object: the negotiated ALPN, every stream's response (status, headers, body as text or its length and
SHA-256), RST_STREAMs received, the GOAWAY received, and whether the server closed the connection. Every wait is
bounded by a deadline; exit status 0 unless the script itself failed.
"""
import argparse
import hashlib
import json
import socket
import ssl
import sys
import time

import hpack
from hpack.hpack import encode_integer
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              PriorityFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DEADLINE_SECONDS = 20
CLIENT_WINDOW = 16 * 1024 * 1024


class Client:
    def __init__(self, sock, host):
        self.sock = sock
        self.host = host
        self.buffer = b""
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_allowed_table_size = 65536
        self.streams = {}
        self.resets = {}
        self.goaway = None
        self.closed = False
        self.send_error = None
        self.connection_window = 65535
        self.stream_windows = {}
        self.initial_window = 65535
        self.max_frame = 16384
        self.settings = {}
        self.pending_block = None
        self.next_stream = 1

    # ---- writing ----
    def send(self, *frames):
        try:
            self.sock.sendall(b"".join(f.serialize() for f in frames))
        except OSError as error:  # the server may close while a hostile scenario still writes; reading tells the rest
            self.send_error = str(error)

    def send_raw(self, data):
        try:
            self.sock.sendall(data)
        except OSError as error:
            self.send_error = str(error)

    def start(self):
        settings = SettingsFrame(0, settings={SettingsFrame.ENABLE_PUSH: 0, SettingsFrame.INITIAL_WINDOW_SIZE: CLIENT_WINDOW})
        self.send_raw(PREFACE)
        self.send(settings, WindowUpdateFrame(0, window_increment=CLIENT_WINDOW - 65535))
        self.pump_until(lambda: SettingsFrame.INITIAL_WINDOW_SIZE in self.settings or "seen" in self.settings)

    def new_stream(self):
        stream_id = self.next_stream
        self.next_stream += 2
        self.streams[stream_id] = {"headers": None, "trailers": None, "body": b"", "ended": False}
        self.stream_windows[stream_id] = self.initial_window
        return stream_id

    def request_headers(self, method, path, extra=(), authority=None):
        return [(":method", method), (":scheme", "https"), (":authority", authority or self.host), (":path", path)] + list(extra)

    def encode(self, headers, huffman=True):
        return self.encoder.encode(headers, huffman=huffman)

    def send_block(self, stream_id, block, end_stream, fragments=1, pad=0, priority=None):
        """Sends a header block as HEADERS plus CONTINUATION frames (block cut into `fragments` pieces)."""
        size = max(1, -(-len(block) // fragments))
        pieces = [block[i:i + size] for i in range(0, len(block), size)] or [b""]
        first = HeadersFrame(stream_id, data=pieces[0])
        if end_stream:
            first.flags.add("END_STREAM")
        if pad:
            first.flags.add("PADDED")
            first.pad_length = pad
        if priority is not None:
            first.flags.add("PRIORITY")
            first.depends_on, first.stream_weight, first.exclusive = priority
        frames = [first]
        for piece in pieces[1:]:
            frames.append(ContinuationFrame(stream_id, data=piece))
        frames[-1].flags.add("END_HEADERS")
        self.send(*frames)

    def request(self, method, path, extra=(), body=None, trailers=None, huffman=True, fragments=1, pad=0, priority=None):
        stream_id = self.new_stream()
        block = self.encode(self.request_headers(method, path, extra), huffman)
        self.send_block(stream_id, block, end_stream=body is None and trailers is None, fragments=fragments, pad=pad, priority=priority)
        if body is not None:
            self.send_body(stream_id, body, end_stream=trailers is None, pad=pad)
        if trailers is not None:
            self.send_block(stream_id, self.encode(trailers, huffman), end_stream=True)
        return stream_id

    def send_body(self, stream_id, body, end_stream, pad=0):
        offset = 0
        while offset < len(body) or (offset == 0 and not body):
            room = min(self.connection_window, self.stream_windows[stream_id], self.max_frame - (pad + 1 if pad else 0))
            if room <= 0 and body:
                if not self.pump_until(lambda: min(self.connection_window, self.stream_windows[stream_id]) > 0):
                    raise RuntimeError("flow-control window never reopened")
                continue
            piece = body[offset:offset + room]
            frame = DataFrame(stream_id, data=piece)
            if pad:
                frame.flags.add("PADDED")
                frame.pad_length = pad
            offset += len(piece)
            last = offset >= len(body)
            if last and end_stream:
                frame.flags.add("END_STREAM")
            self.connection_window -= len(piece)
            self.stream_windows[stream_id] -= len(piece)
            self.send(frame)
            if last:
                break

    # ---- reading ----
    def read_frame(self, deadline):
        while True:
            if len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) >= 9 + length:
                    frame.parse_body(memoryview(self.buffer[9:9 + length]))
                    self.buffer = self.buffer[9 + length:]
                    return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            except (OSError, ssl.SSLError):
                data = b""
            if not data:
                self.closed = True
                return None
            self.buffer += data

    def pump_until(self, predicate, seconds=DEADLINE_SECONDS):
        """Handles incoming frames until predicate() holds, the connection closes, or the deadline passes."""
        deadline = time.monotonic() + seconds
        while not predicate():
            if self.closed:
                return predicate()
            frame = self.read_frame(deadline)
            if frame is None:
                return predicate()
            self.handle(frame)
        return True

    def handle(self, frame):
        if isinstance(frame, SettingsFrame):
            if "ACK" not in frame.flags:
                self.settings["seen"] = True
                for key, value in frame.settings.items():
                    self.settings[key] = value
                    if key == SettingsFrame.INITIAL_WINDOW_SIZE:
                        delta = value - self.initial_window
                        self.initial_window = value
                        for stream_id in self.stream_windows:
                            self.stream_windows[stream_id] += delta
                    elif key == SettingsFrame.MAX_FRAME_SIZE:
                        self.max_frame = value
                self.send(SettingsFrame(0, flags=["ACK"]))
        elif isinstance(frame, PingFrame):
            if "ACK" not in frame.flags:
                self.send(PingFrame(0, opaque_data=frame.opaque_data, flags=["ACK"]))
        elif isinstance(frame, WindowUpdateFrame):
            if frame.stream_id == 0:
                self.connection_window += frame.window_increment
            elif frame.stream_id in self.stream_windows:
                self.stream_windows[frame.stream_id] += frame.window_increment
        elif isinstance(frame, GoAwayFrame):
            self.goaway = {"errorCode": frame.error_code, "lastStreamId": frame.last_stream_id,
                           "debug": frame.additional_data.decode("latin-1")}
        elif isinstance(frame, RstStreamFrame):
            self.resets[frame.stream_id] = frame.error_code
            if frame.stream_id in self.streams:
                self.streams[frame.stream_id]["ended"] = True
        elif isinstance(frame, (HeadersFrame, ContinuationFrame)):
            self.pending_block = (self.pending_block or b"") + frame.data
            if "END_HEADERS" in frame.flags:
                headers = [(n.decode("latin-1") if isinstance(n, bytes) else n, v.decode("latin-1") if isinstance(v, bytes) else v)
                           for n, v in self.decoder.decode(self.pending_block)]
                self.pending_block = None
                stream = self.streams.setdefault(frame.stream_id, {"headers": None, "trailers": None, "body": b"", "ended": False})
                if stream["headers"] is None or any(n == ":status" and v.startswith("1") for n, v in stream["headers"]):
                    stream["headers"] = headers
                else:
                    stream["trailers"] = headers
            if "END_STREAM" in frame.flags:
                self.streams[frame.stream_id]["ended"] = True
        elif isinstance(frame, DataFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream["body"] += frame.data
                if "END_STREAM" in frame.flags:
                    stream["ended"] = True
            if frame.flow_controlled_length:
                # Give the window straight back so large responses keep flowing.
                updates = [WindowUpdateFrame(0, window_increment=frame.flow_controlled_length)]
                if stream is not None and "END_STREAM" not in frame.flags:
                    updates.append(WindowUpdateFrame(frame.stream_id, window_increment=frame.flow_controlled_length))
                self.send(*updates)
        # PRIORITY, PUSH_PROMISE (disabled) and unknown frames need no answer.

    def wait_streams(self, stream_ids, seconds=DEADLINE_SECONDS):
        return self.pump_until(lambda: all(self.streams[s]["ended"] for s in stream_ids), seconds)

    def wait_closed(self, seconds=DEADLINE_SECONDS):
        return self.pump_until(lambda: self.closed, seconds)

    def report(self, **extra):
        streams = {}
        for stream_id, stream in self.streams.items():
            body = stream["body"]
            entry = {"headers": stream["headers"], "trailers": stream["trailers"], "ended": stream["ended"],
                     "bodyLength": len(body), "bodySha256": hashlib.sha256(body).hexdigest()}
            status = [v for n, v in (stream["headers"] or []) if n == ":status"]
            entry["status"] = int(status[0]) if status else None
            if len(body) <= 65536:
                try:
                    entry["body"] = json.loads(body.decode("utf-8")) if body else None
                except ValueError:
                    entry["body"] = body.decode("latin-1")
            streams[str(stream_id)] = entry
        result = {"streams": streams, "resets": {str(k): v for k, v in self.resets.items()}, "goaway": self.goaway,
                  "closed": self.closed, "sendError": self.send_error}
        result.update(extra)
        return result


def hpack_prefixed(value, prefix_bits, pattern):
    """An HPACK integer with its first byte's high bits set to `pattern` (RFC 7541 5.1)."""
    encoded = encode_integer(value, prefix_bits)
    encoded[0] |= pattern
    return bytes(encoded)


# ---- scenarios: each drives the client and returns extra report fields ----

def dynamic_table(c):
    """The same custom headers on 20 sequential requests: the encoder indexes them once and refers to them after."""
    ids = []
    for i in range(20):
        extra = [("user-agent", "h2-frames/1.0 (dynamic table)"), ("x-repeat", "same-value-every-time"),
                 ("cookie", "session=abc123"), ("x-changing", "value-%d" % i)]
        stream_id = c.request("GET", "/dt/%d?q=%d" % (i, i), extra)
        c.wait_streams([stream_id])
        ids.append(stream_id)
    return {"ids": ids}


def huffman(c):
    """The same request with Huffman-coded and with raw string literals."""
    extra = [("x-text", "Huffman or not: the quick brown fox ~!@#$%^&*()")]
    coded = c.request("GET", "/huff/on?x=%7E", extra, huffman=True)
    raw = c.request("GET", "/huff/off?x=%7E", extra, huffman=False)
    c.wait_streams([coded, raw])
    return {"ids": [coded, raw]}


def padding(c):
    """Padded HEADERS and padded DATA frames."""
    body = bytes(range(256)) * 40
    stream_id = c.request("POST", "/padded", [("content-type", "application/octet-stream")], body=body, pad=37)
    c.wait_streams([stream_id])
    return {"ids": [stream_id], "sentSha256": hashlib.sha256(body).hexdigest(), "sentLength": len(body)}


def priority(c):
    """HEADERS with the PRIORITY flag, and PRIORITY frames before and between requests."""
    c.send(PriorityFrame(1, depends_on=0, stream_weight=200, exclusive=False))
    first = c.request("GET", "/prio/1", priority=(0, 255, True))
    c.send(PriorityFrame(first, depends_on=0, stream_weight=16, exclusive=False), PriorityFrame(99, depends_on=first, stream_weight=1))
    second = c.request("GET", "/prio/2", priority=(first, 7, False))
    c.wait_streams([first, second])
    return {"ids": [first, second]}


def continuation(c):
    """A header block cut into HEADERS plus many CONTINUATION frames, one with a 20 KiB header value."""
    extra = [("x-big", "b" * 20000), ("x-after", "after-the-big-one")]
    split = c.request("GET", "/cont/split", extra, fragments=9)
    tiny = c.request("GET", "/cont/tiny", [("x-small", "s")], fragments=40)
    c.wait_streams([split, tiny])
    return {"ids": [split, tiny]}


def table_size_valid(c):
    """Table-size updates the server allows: shrink to 0 (evicting everything), grow back, then reuse new entries."""
    first = c.request("GET", "/ts/1", [("x-indexed", "first")])
    c.wait_streams([first])
    c.encoder.header_table_size = 0
    second = c.request("GET", "/ts/2", [("x-indexed", "second")])
    c.wait_streams([second])
    c.encoder.header_table_size = 4096
    third = c.request("GET", "/ts/3", [("x-indexed", "third")])
    fourth = c.request("GET", "/ts/4", [("x-indexed", "third")])
    c.wait_streams([third, fourth])
    return {"ids": [first, second, third, fourth]}


def table_size_too_big(c):
    """A table-size update above the size the server advertised (4096): COMPRESSION_ERROR, nothing reaches the app."""
    advertised = c.settings.get(SettingsFrame.HEADER_TABLE_SIZE, 4096)
    block = hpack_prefixed(advertised * 16, 5, 0x20) + c.encode(c.request_headers("GET", "/tsbig/never"))
    stream_id = c.new_stream()
    c.send_block(stream_id, block, end_stream=True)
    c.wait_closed()
    return {"ids": [stream_id], "advertised": advertised}


def concurrent(c):
    """100 streams opened before any response is read."""
    ids = [c.request("GET", "/conc/%d" % i, [("x-stream", str(i))]) for i in range(100)]
    c.wait_streams(ids)
    return {"ids": ids, "maxConcurrent": c.settings.get(SettingsFrame.MAX_CONCURRENT_STREAMS)}


def rst_stream(c):
    """A request body cut off by RST_STREAM(CANCEL); the connection keeps serving the next request."""
    stream_id = c.new_stream()
    c.send_block(stream_id, c.encode(c.request_headers("POST", "/rst/cancelled", [("content-length", "100000")])), end_stream=False)
    c.send_body(stream_id, b"x" * 1000, end_stream=False)
    c.send(RstStreamFrame(stream_id, error_code=8))
    c.streams[stream_id]["ended"] = True
    after = c.request("GET", "/rst/after")
    c.wait_streams([after])
    return {"ids": [stream_id, after]}


def trailers(c):
    """A request body followed by a trailing header block."""
    stream_id = c.request("POST", "/trailers", [("te", "trailers"), ("trailer", "x-checksum")], body=b"hello trailers",
                          trailers=[("x-checksum", "abc123"), ("x-second", "two")])
    c.wait_streams([stream_id])
    return {"ids": [stream_id]}


def large_body(c):
    """A 3 MiB request body and a 2 MiB response, both beyond the initial flow-control windows."""
    body = (bytes(range(251)) * (3 * 1024 * 1024 // 251 + 1))[:3 * 1024 * 1024 + 7]
    upload = c.request("POST", "/large/upload", [("content-type", "application/octet-stream")], body=body)
    download = c.request("GET", "/large/big-response")
    c.wait_streams([upload, download], seconds=40)
    return {"ids": [upload, download], "sentSha256": hashlib.sha256(body).hexdigest(), "sentLength": len(body)}


def client_goaway(c):
    """A request, then GOAWAY(NO_ERROR) from the client: the response still completes and the server closes."""
    stream_id = c.request("GET", "/goaway/last")
    c.send(GoAwayFrame(0, last_stream_id=0, error_code=0))
    c.wait_streams([stream_id])
    c.wait_closed()
    return {"ids": [stream_id]}


def continuation_flood(c):
    """HEADERS without END_HEADERS followed by an endless run of CONTINUATION frames."""
    stream_id = c.new_stream()
    first = HeadersFrame(stream_id, data=c.encode(c.request_headers("GET", "/flood/never")))
    first.flags.add("END_STREAM")
    c.send(first)
    fragment = bytes([0x00, 0x01]) + b"x" + bytes([0x01]) + b"y"  # literal without indexing "x: y"
    sent = 0
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not c.closed and c.goaway is None and c.send_error is None and sent < 200000 and time.monotonic() < deadline:
        c.send(*[ContinuationFrame(stream_id, data=fragment) for _ in range(500)])
        sent += 500
        c.pump_until(lambda: False, seconds=0.001)
    c.wait_closed()
    return {"ids": [stream_id], "continuationsSent": sent}


def hpack_bomb(c):
    """One 4000-byte header put in the dynamic table, then referenced thousands of times in one small block."""
    stream_id = c.new_stream()
    block = c.encode(c.request_headers("GET", "/bomb/never") + [("x-bomb", "B" * 4000)], huffman=False)
    block += hpack_prefixed(62, 7, 0x80) * 10000  # index 62: the entry just added, the newest in the dynamic table
    c.send_block(stream_id, block, end_stream=True, fragments=max(1, len(block) // 16000 + 1))
    c.wait_closed()
    return {"ids": [stream_id], "blockLength": len(block)}


def oversize_frame(c):
    """A HEADERS frame larger than the server's SETTINGS_MAX_FRAME_SIZE."""
    stream_id = c.new_stream()
    limit = c.settings.get(SettingsFrame.MAX_FRAME_SIZE, 16384)
    block = c.encode(c.request_headers("GET", "/oversize/never", [("x-pad", "p" * (limit + 100))]), huffman=False)
    c.send_block(stream_id, block, end_stream=True)
    c.wait_closed()
    return {"ids": [stream_id], "blockLength": len(block)}


def interrupted_block(c):
    """HEADERS without END_HEADERS followed by a PING instead of CONTINUATION."""
    stream_id = c.new_stream()
    first = HeadersFrame(stream_id, data=c.encode(c.request_headers("GET", "/interrupted/never")))
    first.flags.add("END_STREAM")
    c.send(first, PingFrame(0, opaque_data=b"12345678"))
    c.wait_closed()
    return {"ids": [stream_id]}


def bad_index(c):
    """A header block referring to a dynamic-table entry that does not exist."""
    stream_id = c.new_stream()
    block = c.encode(c.request_headers("GET", "/badindex/never")) + hpack_prefixed(300, 7, 0x80)
    c.send_block(stream_id, block, end_stream=True)
    c.wait_closed()
    return {"ids": [stream_id]}


SCENARIOS = {
    "dynamic-table": dynamic_table, "huffman": huffman, "padding": padding, "priority": priority,
    "continuation": continuation, "table-size-valid": table_size_valid, "table-size-too-big": table_size_too_big,
    "concurrent": concurrent, "rst-stream": rst_stream, "trailers": trailers, "large-body": large_body,
    "client-goaway": client_goaway, "continuation-flood": continuation_flood, "hpack-bomb": hpack_bomb,
    "oversize-frame": oversize_frame, "interrupted-block": interrupted_block, "bad-index": bad_index,
}


def open_connection(args):
    raw = socket.create_connection(("127.0.0.1", args.port), timeout=DEADLINE_SECONDS)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if args.proxy:
        raw.sendall(("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (args.host, args.host)).encode("ascii"))
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            data = raw.recv(1)  # byte by byte: nothing after the CONNECT answer may be consumed here
            if not data:
                raise RuntimeError("proxy closed before answering CONNECT")
            head += data
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 200 " not in status + " ":
            raise RuntimeError("CONNECT answered " + status)
    context = ssl.create_default_context(cafile=args.cafile)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context.wrap_socket(raw, server_hostname=args.host)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--proxy", action="store_true")
    parser.add_argument("--host", required=True)
    parser.add_argument("--cafile", required=True)
    args = parser.parse_args()
    sock = open_connection(args)
    alpn = sock.selected_alpn_protocol()
    if alpn != "h2":
        print(json.dumps({"alpn": alpn}))
        return 0
    client = Client(sock, args.host)
    client.start()
    extra = SCENARIOS[args.scenario](client)
    print(json.dumps(client.report(alpn=alpn, **extra)))
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
