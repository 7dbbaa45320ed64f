"""pyftpdlib as a peer FTP server for the benchmark (plain FTP, one process, its default loop).

Usage: /usr/bin/python3 pyftpd_server.py HOME USER PASSWORD PASV_MIN PASV_MAX

Binds 127.0.0.1 port 0, prints {"port": N}; answers "memory" lines on stdin
with {"rssMiB", "peakMiB"}; stops when stdin closes.
"""
import json
import logging
import os
import sys
import threading

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def rss_mib():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return int(fields["VmRSS"][0]) / 1024, int(fields["VmHWM"][0]) / 1024


def main():
    home, user, password, low, high = sys.argv[1:6]
    logging.basicConfig(level=logging.ERROR)
    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, home, perm="elradfmwMT")
    handler = FTPHandler
    handler.authorizer = authorizer
    handler.passive_ports = range(int(low), int(high) + 1)
    server = FTPServer(("127.0.0.1", 0), handler)
    server.max_cons = 256
    port = server.socket.getsockname()[1]
    threading.Thread(target=server.serve_forever, kwargs={"handle_exit": False}, daemon=True).start()
    print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
    peak = 0.0
    for line in sys.stdin:
        if line.strip() == "memory":
            rss, hwm = rss_mib()
            peak = max(peak, hwm)
            print(json.dumps({"rssMiB": rss, "peakMiB": peak}), flush=True)
    server.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
