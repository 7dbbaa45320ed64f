"""Reads TCP_NODELAY of another process's TCP socket, for tests that assert the option is set.

Usage: /usr/bin/python3 tcp_nodelay.py PID LOCAL_PORT REMOTE_PORT

Finds the socket of PID whose IPv4 local port is LOCAL_PORT and remote port
REMOTE_PORT (/proc/net/tcp, then /proc/PID/fd), copies it into this process
with pidfd_getfd(2) and prints {"nodelay": 0|1}. Exit 2: no such socket;
exit 3: the kernel refused to share it (prints the reason).
"""
import ctypes
import json
import os
import re
import socket
import sys

SYS_PIDFD_GETFD = 438


def main():
    pid, local_port, remote_port = (int(a) for a in sys.argv[1:4])
    inodes = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local = int(fields[1].split(":")[1], 16)
            remote = int(fields[2].split(":")[1], 16)
            if local == local_port and remote == remote_port:
                inodes.add(fields[9])
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        match = re.fullmatch(r"socket:\[(\d+)\]", target)
        if not match or match.group(1) not in inodes:
            continue
        copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
        if copy < 0:
            print(json.dumps({"error": os.strerror(ctypes.get_errno())}))
            return 3
        sock = socket.socket(fileno=copy)
        try:
            print(json.dumps({"nodelay": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)}))
        finally:
            sock.detach()
            os.close(copy)
        return 0
    print(json.dumps({"error": "no such socket"}))
    return 2


if __name__ == "__main__":
    sys.exit(main())
