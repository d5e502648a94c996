"""A small MLLP listener for make.sh: acknowledges every framed HL7 message.

Answers MSA|AE when the message control id ends in "AE", MSA|AA otherwise.
Runs until killed. Test traffic only: 127.0.0.1, fake data.
"""
import socket
import sys
import threading

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"


def ack_for(frame: bytes) -> bytes:
    first = frame.split(b"\r", 1)[0]
    fs = first[3:4] or b"|"
    fields = first.split(fs)
    get = lambda n: fields[n - 1] if len(fields) >= n else b""
    header = b"MSH" + fs.join([b"", get(2), get(5), get(6), get(3), get(4),
                               b"20240501120001", b"", b"ACK", b"ACK" + get(10), b"P", get(12)])
    code = b"AE" if get(10).endswith(b"AE") else b"AA"
    msa = b"MSA" + fs.join([b"", code, get(10)])
    if code == b"AE":
        msa += fs + b"Simulated application error"
    return SB + header + CR + msa + CR + EB + CR


def serve(conn):
    buf = b""
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while True:
                end = buf.find(EB + CR)
                if end < 0:
                    break
                start = buf.rfind(SB, 0, end)
                frame = buf[start + 1:end] if start >= 0 else b""
                buf = buf[end + 2:]
                if frame:
                    conn.sendall(ack_for(frame))


def main():
    port = int(sys.argv[1])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
