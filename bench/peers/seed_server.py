"""The seed's TLS and UDP servers, as the seed wrote them, for the benchmark's peer rows.

Usage: python3 seed_server.py tls CERT KEY | udp

Same loops as the seed (docs: /work/shared/seed): TLS wraps the listening
socket, accepts, one thread per client, recv(1024), replies
"Command '...' received and executed.", closes; UDP loops on recvfrom and
replies "UDP command '...' executed.". The seed's print() per command is
left out (terminal output would be measured, not the server). Binds
127.0.0.1 port 0 and prints {"port": N}; answers "memory" lines on stdin
with {"rssMiB", "peakMiB"}; stops when stdin closes.
"""
import json
import os
import socket
import ssl
import sys
import threading


def rss_mib():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return int(fields["VmRSS"][0]) / 1024, int(fields["VmHWM"][0]) / 1024


def handle_tcp_client(conn):
    with conn:
        try:
            data = conn.recv(1024).decode()
            if data:
                response = f"Command '{data}' received and executed."
                conn.sendall(response.encode())
        except Exception:  # noqa: BLE001 - the seed logs and carries on
            pass


def tls_server(sock, cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile=cert, keyfile=key)
    with context.wrap_socket(sock, server_side=True) as secure_sock:
        while True:
            try:
                conn, _ = secure_sock.accept()
            except ssl.SSLError:
                continue
            except OSError:
                return
            threading.Thread(target=handle_tcp_client, args=(conn,), daemon=True).start()


def udp_server(sock):
    while True:
        try:
            data, addr = sock.recvfrom(1024)
            command = data.decode()
            response = f"UDP command '{command}' executed."
            sock.sendto(response.encode(), addr)
        except OSError:
            return
        except Exception:  # noqa: BLE001
            pass


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind == "tls" and len(sys.argv) == 4:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        serve = lambda: tls_server(sock, sys.argv[2], sys.argv[3])  # noqa: E731
    elif kind == "udp":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        serve = lambda: udp_server(sock)  # noqa: E731
    else:
        sys.stderr.write("Usage: seed_server.py tls CERT KEY | udp\n")
        return 2
    port = sock.getsockname()[1]  # before serving: wrap_socket detaches `sock`
    threading.Thread(target=serve, daemon=True).start()
    print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
    peak = 0.0
    for line in sys.stdin:
        if line.strip() == "memory":
            rss, hwm = rss_mib()
            peak = max(peak, hwm)
            print(json.dumps({"rssMiB": rss, "peakMiB": peak}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
