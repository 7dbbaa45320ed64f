"""FTP/FTPS upload load client for the benchmark (a separate process from the hub).

Usage: python3 ftp_upload.py HOST PORT USER PASSWORD TLS(0|1|2) CAFILE FILES BYTES CLIENTS PREFIX

TLS: 0 plain FTP, 1 explicit FTPS as ftplib does it (Nagle left on), 2 the same with
TCP_NODELAY on the control and data sockets, as curl sets it.

Each of CLIENTS threads logs in once and uploads its share of FILES files of
BYTES bytes (from memory, 64 KiB blocks) over its own control connection.
Prints one JSON line: {"seconds", "bytes", "files", "errors", "error", "p50_ms", "p99_ms"}
(p50/p99: time of one STOR, from the command to its 226).
"""
import ftplib
import io
import json
import os
import socket
import ssl
import sys
import threading
import time


class NoDelayFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS with Nagle's algorithm off on every socket (curl's default)."""

    def connect(self, *args, **kwargs):
        welcome = super().connect(*args, **kwargs)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return welcome

    def ntransfercmd(self, cmd, rest=None):
        conn, size = super().ntransfercmd(cmd, rest)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, size


def main() -> int:
    host, port, user, password, tls, cafile, files, size, clients, prefix = sys.argv[1:11]
    port, files, size, clients = int(port), int(files), int(size), int(clients)
    payload = os.urandom(size)
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "errors": 0, "error": ""}
    latencies = []

    def connect():
        if tls in ("1", "2"):
            context = ssl.create_default_context(cafile=cafile)
            kind = NoDelayFTP_TLS if tls == "2" else ftplib.FTP_TLS
            ftp = kind(context=context, timeout=60)
            ftp.connect(host, port)
            ftp.login(user, password)
            ftp.prot_p()
        else:
            ftp = ftplib.FTP(timeout=60)
            ftp.connect(host, port)
            ftp.login(user, password)
        return ftp

    def worker():
        try:
            ftp = connect()
        except Exception as error:  # noqa: BLE001 - reported as a figure
            with lock:
                state["errors"] += 1
                state["error"] = f"login: {error}"
            return
        try:
            while True:
                with lock:
                    index = state["next"]
                    if index >= files:
                        return
                    state["next"] += 1
                try:
                    began = time.perf_counter()
                    ftp.storbinary(f"STOR {prefix}_{index}.bin", io.BytesIO(payload), 65536)
                    took = (time.perf_counter() - began) * 1000
                    with lock:
                        state["done"] += 1
                        latencies.append(took)
                except Exception as error:  # noqa: BLE001
                    with lock:
                        state["errors"] += 1
                        state["error"] = str(error)
        finally:
            try:
                ftp.quit()
            except Exception:  # noqa: BLE001
                ftp.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    latencies.sort()

    def quantile(q):
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, max(0, int(q * len(latencies) + 0.999999) - 1))]

    print(json.dumps({
        "seconds": seconds,
        "bytes": state["done"] * size,
        "files": state["done"],
        "errors": state["errors"],
        "error": state["error"],
        "p50_ms": quantile(0.5),
        "p99_ms": quantile(0.99),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
