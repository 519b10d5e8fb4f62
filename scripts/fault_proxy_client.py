"""Starting and steering scripts/fault-proxy.py from the benchmarks (bench-network.py,
bench-large.py): one proxy process in front of the S3 test server, its rules set through the
control API the proxy serves on its own port."""
import json
import os
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


class FaultProxy:
    def __init__(self, upstream, scratch, script="fault-proxy.py"):
        """`script`: fault-proxy.py, or delay-proxy.py (latency only, and much cheaper)."""
        info = os.path.join(scratch, f"{script}.info")
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, script), "--upstream", upstream, "--info-file", info],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            if os.path.exists(info):
                break
            time.sleep(0.05)
        port = open(info).read().split("=")[1].strip()
        self.endpoint = f"http://127.0.0.1:{port}"

    def control(self, method, path, body=b""):
        request = urllib.request.Request(f"{self.endpoint}/__proxy/{path}", data=body if method == "POST" else None, method=method)
        with urllib.request.urlopen(request) as response:
            return response.read()

    def set_rules(self, rules):
        """Replaces the rules (see fault-proxy.py) and resets their counters."""
        self.control("POST", "rules", json.dumps(rules).encode())

    def clear(self):
        self.control("POST", "clear")

    def log(self):
        return json.loads(self.control("GET", "log"))

    def stop(self):
        self.process.terminate()
        self.process.wait()
