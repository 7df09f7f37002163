"""An HTTP/2 prior-knowledge (h2c) client for httshark's fixtures, on python-hyper's h2.

curl 7.88.1 (Debian 12) cannot send a second request on a prior-knowledge connection ("Error
in the HTTP2 framing layer", with or without --parallel), so scripts/tls-h2-fixtures.sh uses
this for several streams on one h2c connection. All requests are opened at once (concurrent
streams, interleaved responses), each on its own stream, then it reads until every stream
ended or 20 s passed.

    h2client.py HOST PORT BODYDIR NAME REQUEST...

REQUEST is "METHOD PATH" with optional extra words: "@FILE" (request body from FILE),
"gzip" (send accept-encoding: gzip and gunzip the response), "big=N" (an x-big header of N
bytes, so the header block needs CONTINUATION frames). Each response body (decoded) goes to
BODYDIR/NAME.I; "PATH<TAB>file" lines are appended to BODYDIR/NAME.map. Exit status 1 when a
stream did not end.
"""
import gzip
import os
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events


def main() -> None:
    host, port, bodydir, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    sock = socket.create_connection((host, port), timeout=20)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams = {}
    for i, spec in enumerate(sys.argv[5:], 1):
        words = spec.split()
        method, path, body, gz, extra = words[0], words[1], None, False, []
        for w in words[2:]:
            if w.startswith("@"):
                body = open(w[1:], "rb").read()
            elif w == "gzip":
                gz = True
                extra.append(("accept-encoding", "gzip"))
            elif w.startswith("big="):
                extra.append(("x-big", "b" * int(w[4:])))
        headers = [(":method", method), (":path", path), (":scheme", "http"),
                   (":authority", f"{host}:{port}"), ("user-agent", "httshark-fixture-h2client/1")]
        if body is not None:
            headers.append(("content-length", str(len(body))))
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers + extra, end_stream=body is None)
        if body is not None:
            # Respect flow control: send what the window allows now, the rest as it opens.
            streams[sid] = {"path": path, "i": i, "gz": gz, "data": b"", "done": False, "out": body}
        else:
            streams[sid] = {"path": path, "i": i, "gz": gz, "data": b"", "done": False, "out": None}
    deadline = time.monotonic() + 20

    def pump():
        for sid, s in streams.items():
            out = s["out"]
            while out:
                n = min(len(out), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                if n <= 0:
                    break
                conn.send_data(sid, out[:n], end_stream=n == len(out))
                out = out[n:]
            s["out"] = out
        sock.sendall(conn.data_to_send())

    pump()
    while not all(s["done"] for s in streams.values()) and time.monotonic() < deadline:
        data = sock.recv(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.DataReceived):
                streams[ev.stream_id]["data"] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                streams[ev.stream_id]["done"] = True
            elif isinstance(ev, h2.events.ResponseReceived):
                streams[ev.stream_id]["headers"] = dict(ev.headers)
            elif isinstance(ev, h2.events.PushedStreamReceived):
                # Server push (PUSH_PROMISE): the promised request is one more stream.
                path = dict(ev.headers)[b":path"].decode("latin-1")
                streams[ev.pushed_stream_id] = {"path": path, "i": len(streams) + 1,
                                                "gz": False, "data": b"", "done": False,
                                                "out": None}
        pump()
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.close()
    with open(os.path.join(bodydir, name + ".map"), "a") as m:
        for s in streams.values():
            data = s["data"]
            if s.get("headers", {}).get(b"content-encoding") == b"gzip":
                data = gzip.decompress(data)
            path = os.path.join(bodydir, f"{name}.{s['i']}")
            with open(path, "wb") as f:
                f.write(data)
            m.write(f"{s['path']}\t{path}\n")
    if not all(s["done"] for s in streams.values()):
        sys.exit("h2client: a stream did not end")


if __name__ == "__main__":
    main()
