"""A scripted FTP client for the end-to-end tests, built on Python's ftplib.

Usage: python3 ftp_client.py PORT STEPS_JSON
Prints one JSON object per step (in a JSON list) with the server's reply code
and text, so that tests assert on what a real client saw. Steps:
  {"op": "connect", "tls": bool, "source": a} connect from address a (and AUTH TLS when tls)
  {"op": "login", "user": u, "password": p}  USER/PASS (then PBSZ/PROT P under TLS)
  {"op": "stor", "path": p, "size": n, "seed": s}  upload n pseudo-random bytes
  {"op": "appe", "path": p, "size": n, "seed": s}
  {"op": "retr", "path": p}                  download; reports size and sha256
  {"op": "list", "path": p} / {"op": "nlst", "path": p}
  {"op": "cmd", "line": "DELE x"}            any other command
  {"op": "stor_cut", "path": p, "size": n}   send half of n bytes, then reset both connections
  {"op": "stor_many", "count": n, "size": s} n uploads on this connection; reports failures
"""
import ftplib
import hashlib
import io
import json
import random
import socket
import struct
import sys
import time


def payload(size, seed):
    rng = random.Random(seed)
    return rng.randbytes(size)


def code_of(text):
    text = str(text)
    return int(text[:3]) if text[:3].isdigit() else 0


def main():
    port = int(sys.argv[1])
    steps = json.loads(sys.argv[2])
    ftp = None
    results = []
    for step in steps:
        op = step["op"]
        try:
            if op == "connect":
                ftp = ftplib.FTP_TLS() if step.get("tls") else ftplib.FTP()
                source = (step["source"], 0) if step.get("source") else None
                welcome = ftp.connect("127.0.0.1", port, timeout=20, source_address=source)
                if step.get("tls"):
                    ftp.auth()
                results.append({"op": op, "code": code_of(welcome), "text": welcome})
            elif op == "login":
                reply = ftp.login(step["user"], step["password"])
                if isinstance(ftp, ftplib.FTP_TLS):
                    ftp.prot_p()
                results.append({"op": op, "code": code_of(reply), "text": reply})
            elif op in ("stor", "appe"):
                data = payload(step["size"], step.get("seed", 1))
                verb = "STOR" if op == "stor" else "APPE"
                reply = ftp.storbinary(f"{verb} {step['path']}", io.BytesIO(data), 65536)
                results.append({"op": op, "code": code_of(reply), "text": reply,
                                "sha256": hashlib.sha256(data).hexdigest()})
            elif op == "retr":
                out = io.BytesIO()
                reply = ftp.retrbinary(f"RETR {step['path']}", out.write)
                body = out.getvalue()
                results.append({"op": op, "code": code_of(reply), "text": reply, "size": len(body),
                                "sha256": hashlib.sha256(body).hexdigest()})
            elif op == "list":
                lines = []
                reply = ftp.retrlines(f"LIST {step.get('path', '')}".strip(), lines.append)
                results.append({"op": op, "code": code_of(reply), "text": reply, "lines": lines})
            elif op == "nlst":
                lines = []
                reply = ftp.retrlines(f"NLST {step.get('path', '')}".strip(), lines.append)
                results.append({"op": op, "code": code_of(reply), "text": reply, "lines": lines})
            elif op == "cmd":
                reply = ftp.sendcmd(step["line"])
                results.append({"op": op, "code": code_of(reply), "text": reply})
            elif op == "stor_cut":
                data = payload(step["size"], 7)
                conn = ftp.transfercmd(f"STOR {step['path']}")
                conn.sendall(data[: len(data) // 2])
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                ftp.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                ftp.sock.close()
                ftp = None
                results.append({"op": op, "code": 0, "text": "cut"})
            elif op == "stor_many":
                data = payload(step["size"], 3)
                failures = []
                started = time.perf_counter()
                for i in range(step["count"]):
                    try:
                        ftp.storbinary(f"STOR many_{i % 50}.bin", io.BytesIO(data))
                    except ftplib.all_errors as error:  # noqa: PERF203
                        failures.append(str(error))
                elapsed = time.perf_counter() - started
                results.append({"op": op, "code": 226 if not failures else 0, "failures": failures[:5],
                                "failed": len(failures), "seconds": elapsed})
            elif op == "quit":
                reply = ftp.quit()
                results.append({"op": op, "code": code_of(reply), "text": reply})
            else:
                raise ValueError(f"unknown op {op}")
        except ftplib.all_errors as error:
            results.append({"op": op, "code": code_of(error), "text": str(error)})
    if ftp is not None:
        try:
            ftp.close()
        except OSError:
            pass
    print(json.dumps(results))


main()
