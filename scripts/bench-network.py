#!/usr/bin/env python3
"""The latency benchmark: swamp, rclone and `aws s3 sync` on the same data, in the same run,
through a proxy that adds a fixed delay to every request, and twice that to every new
connection (its TCP and TLS handshakes; scripts/fault-proxy.py in front of the S3 test server),
at each delay given.

Usage: bench-network.py --swamp PATH --endpoint URL [--delays 0,20,80] [--runs 5]
                        [--models 40] [--versions 6] [--bytes 8192] [--transfers 16]
                        [--baseline PATH]   (another swamp binary, e.g. an earlier commit's,
                                             measured beside it as "swamp (baseline)")
                        [--handshakes 2]    (round trips each new connection costs; 0: none)

Scenarios, each timed `--runs` times (medians and min–max reported):
- cold pull: an empty cache/directory pulls the whole bucket;
- one model changed: a teammate (straight to the server, untimed) runs one model; then each
  tool brings its up-to-date copy in line;
- no-op pull: nothing changed;
- model run: `swamp model method run` on a model nobody changed (swamp only).
"CPU s" is the tool's own user and system time (median; the proxy and the server not counted).
Requests are counted by the proxy; "critical path" is the longest chain of requests each
started after the one before it was answered (requests in flight together count once).
Prints Markdown tables on stdout; progress on stderr.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from fault_proxy_client import FaultProxy


def log(message):
    print(message, file=sys.stderr, flush=True)


class Proxy(FaultProxy):
    """delay-proxy.py in front of the server, with a `delay` rule on every request (not
    fault-proxy.py: threaded, it capped every tool at ~500 requests a second; see delay-proxy.py)."""

    def __init__(self, upstream, scratch, handshakes=2):
        super().__init__(upstream, scratch, script="delay-proxy.py")
        self.handshakes = handshakes

    def delay(self, ms):
        """`ms` on every request, and `handshakes` × `ms` on every new connection (TCP and TLS
        1.3 handshakes: a round trip each)."""
        self.set_rules([{"action": "delay", "ms": ms, "count": -1}, {"action": "connect_delay", "ms": self.handshakes * ms}] if ms else [])


def critical_path(requests):
    chain, free = 0, float("-inf")
    for request in sorted(requests, key=lambda r: r["end"]):
        if request["start"] >= free:
            chain, free = chain + 1, request["end"]
    return chain


class Bench:
    def __init__(self, args):
        self.args = args
        self.scratch = tempfile.mkdtemp(prefix="swamp-bench-net.")
        self.bucket = f"bench-{uuid.uuid4().hex[:16]}"
        self.proxy = Proxy(args.endpoint, self.scratch, args.handshakes)
        self.base_env = {
            "PATH": os.environ["PATH"], "HOME": self.scratch, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "RCLONE_CONFIG": os.path.join(self.scratch, "rclone.conf"),
        }
        open(self.base_env["RCLONE_CONFIG"], "w").close()

    def discard(self, path):
        """Moves a previous run's tree aside, deleted only at the end: deleting thousands of files
        just before the next timed run made every tool's file creations slow (ext4 skips inodes
        deleted in the last minute, scanning for free ones: half of a cold pull's CPU time went
        to that scan, and it grew run after run)."""
        if os.path.exists(path):
            os.makedirs(os.path.join(self.scratch, "discarded"), exist_ok=True)
            os.rename(path, os.path.join(self.scratch, "discarded", uuid.uuid4().hex))

    # -- tools --

    def run(self, argv, env=None, check=True):
        result = subprocess.run(argv, env={**self.base_env, **(env or {})}, capture_output=True)
        if check and result.returncode != 0:
            raise SystemExit(f"failed ({result.returncode}): {' '.join(argv)}\n{result.stderr.decode()[-2000:]}")
        return result

    def config(self, endpoint):
        return json.dumps({"bucket": self.bucket, "endpoint": endpoint, "forcePathStyle": True})

    def swamp(self, user, *argv, through_proxy=True, check=True):
        env = {"SWAMP_HOME": os.path.join(self.scratch, f"{user}-home")}
        if through_proxy:
            env["SWAMP_DATASTORE"] = "s3:" + self.config(self.proxy.endpoint)
        return self.run([self.args.swamp, *argv, "--repo-dir", os.path.join(self.scratch, user)], env, check)

    def clone(self, user):
        """A teammate's repository (A's .swamp.yaml and models), never synced."""
        for path in (os.path.join(self.scratch, user), os.path.join(self.scratch, f"{user}-home")):
            self.discard(path)
        os.makedirs(os.path.join(self.scratch, user))
        a = os.path.join(self.scratch, "a")
        shutil.copy(os.path.join(a, ".swamp.yaml"), os.path.join(self.scratch, user, ".swamp.yaml"))
        shutil.copytree(os.path.join(a, "models"), os.path.join(self.scratch, user, "models"))

    def rclone(self, directory):
        remote = f":s3,provider=Other,env_auth=false,access_key_id=test,secret_access_key=test,endpoint='{self.proxy.endpoint}':{self.bucket}"
        return ["rclone", "sync", remote, directory, "--fast-list", "--checksum", "--transfers", str(self.args.transfers), "--s3-no-check-bucket"]

    def aws(self, directory):
        return ["aws", "s3", "sync", f"s3://{self.bucket}", directory, "--endpoint-url", self.proxy.endpoint, "--only-show-errors"]

    # -- data --

    def seed(self):
        """Repository A: `models` models, each run `versions` times on the filesystem datastore,
        then `datastore setup s3` (straight to the server) pushes it all into the bucket."""
        a = os.path.join(self.scratch, "a")
        os.makedirs(a)
        self.swamp("a", "repo", "init", through_proxy=False)
        for index in range(self.args.models):
            self.swamp("a", "model", "create", "command/shell", f"m{index}", "--set",
                       f"run=head -c {self.args.bytes} /dev/urandom", through_proxy=False)
        for _ in range(self.args.versions):
            for index in range(self.args.models):
                self.swamp("a", "model", "method", "run", f"m{index}", "execute", through_proxy=False)
        self.run(["aws", "s3", "mb", f"s3://{self.bucket}", "--endpoint-url", self.args.endpoint])
        self.swamp("a", "datastore", "setup", "s3", "--config", self.config(self.args.endpoint), through_proxy=False)
        listed = self.run(["aws", "s3", "ls", f"s3://{self.bucket}", "--recursive", "--endpoint-url", self.args.endpoint]).stdout
        self.objects = len(listed.decode().splitlines())

    def teammate_changes_one_model(self):
        """A runs the next model straight against the server (untimed)."""
        self.changes = getattr(self, "changes", 0) + 1
        self.swamp("a", "model", "method", "run", f"m{self.changes % self.args.models}", "execute", through_proxy=False)

    # -- measuring --

    def timed(self, argv, env=None):
        # Every tool starts on a flushed disk (untimed): what the steps before wrote (another
        # tool's tree, a removed directory) is not written back during its run and charged to it.
        os.sync()
        self.proxy.clear()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        self.run(argv, env)
        elapsed = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The tool's own CPU time, user and system (the proxy and the server are not counted).
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        seen = self.proxy.log()
        return elapsed, len(seen), critical_path(seen), sorted({r["connection"] for r in seen}), cpu

    def timed_swamp(self, user, *argv, binary=None):
        env = {"SWAMP_HOME": os.path.join(self.scratch, f"{user}-home"), "SWAMP_DATASTORE": "s3:" + self.config(self.proxy.endpoint)}
        return self.timed([binary or self.args.swamp, *argv, "--repo-dir", os.path.join(self.scratch, user)], env)

    def swamps(self, run=0):
        """(label, binary, user) of each swamp measured; with a baseline, the two take turns
        going first (the second's model run finds the first's commit in meta.json and pays a
        conditional write refused and a read more)."""
        measured = [("swamp", self.args.swamp, "b")]
        if self.args.baseline:
            measured.append(("swamp (baseline)", self.args.baseline, "c"))
        return measured if run % 2 == 0 else measured[::-1]

    def measure(self, delay):
        self.proxy.delay(delay)
        results = {}

        def record(scenario, tool, sample):
            results.setdefault((scenario, tool), []).append(sample)

        for run in range(self.args.runs):
            log(f"  delay {delay} ms, run {run + 1}/{self.args.runs}")
            # Cold pulls.
            for label, binary, user in self.swamps(run):
                self.clone(user)
                record("cold pull", label, self.timed_swamp(user, "datastore", "sync", "--pull", binary=binary))
            for tool, command in (("rclone", self.rclone), ("aws-cli", self.aws)):
                directory = os.path.join(self.scratch, f"{tool}-dir")
                self.discard(directory)
                record("cold pull", tool, self.timed(command(directory)))
            # One model changed by a teammate.
            self.teammate_changes_one_model()
            for label, binary, user in self.swamps(run):
                record("one model changed", label, self.timed_swamp(user, "datastore", "sync", "--pull", binary=binary))
            for tool, command in (("rclone", self.rclone), ("aws-cli", self.aws)):
                record("one model changed", tool, self.timed(command(os.path.join(self.scratch, f"{tool}-dir"))))
            # Nothing changed.
            for label, binary, user in self.swamps(run):
                record("no-op pull", label, self.timed_swamp(user, "datastore", "sync", "--pull", binary=binary))
            for tool, command in (("rclone", self.rclone), ("aws-cli", self.aws)):
                record("no-op pull", tool, self.timed(command(os.path.join(self.scratch, f"{tool}-dir"))))
            # A model run on a model nobody changed (B's cache is up to date with it).
            # Each swamp runs a model of its own, so that neither pulls the other's new version.
            for label, binary, user in self.swamps(run):
                index = 0 if user == "b" else 1
                record("model run (unchanged model)", label,
                       self.timed_swamp(user, "model", "method", "run", f"m{self.args.models - 1 - index}", "execute", binary=binary))
        return results


def median(values):
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--swamp", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--delays", default="0,20,80")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", type=int, default=40)
    parser.add_argument("--versions", type=int, default=6)
    parser.add_argument("--bytes", type=int, default=8192)
    parser.add_argument("--transfers", type=int, default=16)
    parser.add_argument("--baseline")
    parser.add_argument("--handshakes", type=int, default=2, help="round trips added to each new connection (0: requests only)")
    args = parser.parse_args()
    for tool in ("rclone", "aws"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (scripts/bench.sh network installs it)")
    bench = Bench(args)
    try:
        log(f"seeding: {args.models} models x {args.versions} versions of {args.bytes} bytes")
        bench.seed()
        log(f"bucket holds {bench.objects} objects")
        rclone_version = bench.run(["rclone", "version"]).stdout.decode().splitlines()[0]
        aws_version = bench.run(["aws", "--version"]).stdout.decode().strip() or bench.run(["aws", "--version"]).stderr.decode().strip()
        print(f"Data: {bench.objects} objects ({args.models} models x {args.versions} versions, {args.bytes}-byte outputs, "
              f"with their metadata, output records and the index). Runs: {args.runs} per cell, medians (min–max).")
        print(f"Latency: the delay on every request, and {args.handshakes} × the delay on every new connection.")
        print(f"Peers: {rclone_version} (`--fast-list --checksum --transfers {args.transfers}`), {aws_version} (`aws s3 sync`, defaults).\n")
        for delay in [int(d) for d in args.delays.split(",")]:
            results = bench.measure(delay)
            print(f"### {delay} ms added to every request\n")
            print("| scenario | tool | median s | range s | CPU s | requests | critical path | connections | × rclone | × baseline |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for scenario in ("cold pull", "one model changed", "no-op pull", "model run (unchanged model)"):
                base = results.get((scenario, "rclone"))
                base_median = median([s[0] for s in base]) if base else None
                old = results.get((scenario, "swamp (baseline)"))
                old_median = median([s[0] for s in old]) if old else None
                for tool in ("swamp", "swamp (baseline)", "rclone", "aws-cli"):
                    samples = results.get((scenario, tool))
                    if not samples:
                        continue
                    times = [s[0] for s in samples]
                    requests = sorted({s[1] for s in samples})
                    paths = sorted({s[2] for s in samples})
                    connections = sorted({len(s[3]) for s in samples})
                    ratio = f"{median(times) / base_median:.2f}" if base_median else "–"
                    against_old = f"{median(times) / old_median:.2f}" if old_median and tool == "swamp" else "–"
                    span = lambda values: str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"
                    cpu = median([s[4] for s in samples])
                    print(f"| {scenario} | {tool} | {median(times):.3f} | {min(times):.3f}–{max(times):.3f} | {cpu:.2f} | {span(requests)} | "
                          f"{span(paths)} | {span(connections)} | {ratio} | {against_old} |")
            print()
            sys.stdout.flush()
    finally:
        bench.proxy.stop()
        shutil.rmtree(bench.scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
