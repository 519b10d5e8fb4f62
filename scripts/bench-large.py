#!/usr/bin/env python3
"""Large artifacts: swamp against `aws s3 cp` / `aws s3 sync` on the same local S3 server, in
the same run — wall time, peak resident memory (`/usr/bin/time -f %M`) and peak
own (anonymous) memory of every process.

Usage: bench-large.py --swamp BIN --endpoint URL [--runs N] [--gib N] [--files N] [--file-mib N]

Scenarios (medians of --runs; each run on a fresh bucket):
  1 x 1 GiB   push: `swamp datastore setup s3` of a filesystem datastore holding one 1 GiB version
              (it copies the file into the cache, then pushes it: multipart, 8 MiB parts)
              against `aws s3 cp FILE s3://…`;
              push from the cache: `swamp datastore sync --push` of a new 1 GiB version a model
              run wrote into the cache and could not push (its multipart uploads refused by
              scripts/fault-proxy.py), against the same `aws s3 cp`: swamp's push proper, with
              no copy into the cache;
              pull: a teammate's `swamp datastore sync --pull` (ranged GETs) against
              `aws s3 cp s3://… FILE`.
  100 x 10 MiB the same with 100 models of one 10 MiB version each, against `aws s3 sync`
              (push from the cache: 100 model runs, then one push of their 100 new versions).
Each command's own CPU time (user + system) and the server's during it are reported beside the
times: on a 2-core machine the server (Python) is often the bottleneck.
First the flow of issue 12, once: `model method run` writing 1 GiB and pushing it, a second
user's pull, `data get | sha256sum` — peak memory of each process, and the bytes compared.
"""
import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from fault_proxy_client import FaultProxy


def refuse_uploads(proxy, refuse):
    """Makes the proxy answer every upload of a data file (PUT or CreateMultipartUpload under
    data/; locks and indexes go through) with 403 AccessDenied (or stop)."""
    proxy.set_rules([{"method": method, "path": path, "count": -1, "action": "error", "status": 403, "code": "AccessDenied"}
                     for method, path in (("POST", r"/data/.*\?uploads"), ("PUT", r"^/[^/?]+/data/"))] if refuse else [])


SERVER_PID = None


def server_cpu():
    """The S3 test server's CPU time so far (user + system, seconds); 0 when its PID is unknown."""
    if SERVER_PID is None:
        return 0.0
    with open(f"/proc/{SERVER_PID}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(command, env, cwd=None, stdout=subprocess.DEVNULL):
    """(seconds, peak resident KiB, peak anonymous KiB, the server's CPU seconds, the command's
    own CPU seconds: user + system) of one command, which must succeed.

    Peak resident is the kernel's high-water mark (`ru_maxrss`) as `/usr/bin/time -f %M`
    prints it, and it is taken by `/usr/bin/time`: it counts the pages of the executable's code
    and data the process touched, shared and clean, as well as its own memory. Not from this
    script's own `wait4`: the kernel keeps a process's high-water mark across `exec`, and a
    child this Python process starts had this process's memory before it ran the command (its
    memory, spawned by `vfork`; a copy of it, by `fork`), so every command measured at least this
    script's ~23 MiB (`swamp --version` 13.9 MiB against 9.1 under `/usr/bin/time`). Peak
    anonymous is the command's own memory alone (`RssAnon` in /proc/PID/status, sampled every 10
    ms, so a spike shorter than that can be missed): heap, stacks, buffers.

    The disk is flushed first (`sync`), untimed: what the steps before wrote (a copied tree,
    another tool's download) is not written back during this command and charged to it."""
    os.sync()
    served = server_cpu()
    with tempfile.NamedTemporaryFile(prefix="swamp-bench-peak-", mode="r") as peak_file:
        return _timed(command, env, cwd, stdout, served, peak_file)


def _timed(command, env, cwd, stdout, served, peak_file):
    started = time.monotonic()
    process = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", peak_file.name, *command], env=env, cwd=cwd,
                               stdout=stdout, stderr=subprocess.PIPE)
    anon = [0]
    done = threading.Event()

    def sample():
        command_pid = None
        while not done.is_set():
            try:
                if command_pid is None:
                    # The command is /usr/bin/time's child (and the one before exec is time's
                    # copy, of no size worth counting).
                    with open(f"/proc/{process.pid}/task/{process.pid}/children") as children:
                        found = children.read().split()
                    command_pid = int(found[0]) if found else None
                if command_pid is not None:
                    with open(f"/proc/{command_pid}/status") as status:
                        for line in status:
                            if line.startswith("RssAnon:"):
                                anon[0] = max(anon[0], int(line.split()[1]))
            except (OSError, ValueError):
                pass
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # stderr is read to its end before waiting, so a chatty command cannot block on a full pipe.
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    # time writes the peak there, after "Command exited with non-zero status N" when it failed.
    report = peak_file.read()
    if process.returncode != 0:
        sys.exit(f"failed ({report.strip()}): {' '.join(command)}\n{errors.decode()[-2000:]}")
    resident = int(report.split()[-1])
    # time's rusage includes its child's: the command's CPU (time's own is ~1 ms).
    return seconds, resident, anon[0], server_cpu() - served, usage.ru_utime + usage.ru_stime


def evict(paths):
    """Drops the clean pages these files (and the files under these directories) hold in the
    page cache. A file just written, a binary just linked or copied, sits there in the large
    folios of its writes, and a kernel that maps a whole folio at a fault (6.18 here) counts up
    to 2.5 MiB more of a binary's code in a command's peak than once the file was read back
    (measured, paired): a freshly built swamp would measure higher than the same bytes after a
    reboot, and than a peer installed long ago. Both tools start from the cache read back."""
    for top in paths:
        for root, _, names in os.walk(top) if os.path.isdir(top) else [(os.path.dirname(top), None, [os.path.basename(top)])]:
            for name in names:
                try:
                    fd = os.open(os.path.join(root, name), os.O_RDONLY)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--swamp", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gib", type=float, default=1)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--file-mib", type=int, default=10)
    parser.add_argument("--server-pid", type=int, help="the S3 server's PID, to report its CPU time per command")
    args = parser.parse_args()
    global SERVER_PID
    SERVER_PID = args.server_pid
    work = tempfile.mkdtemp(prefix="swamp-bench-large-")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_EC2_METADATA_DISABLED="true",
               AWS_DEFAULT_REGION="us-east-1", SWAMP_HOME=f"{work}/home")
    aws = ["aws", "--endpoint-url", args.endpoint]
    swamp = args.swamp

    def run(command, cwd=None, check=True):
        result = subprocess.run(command, env=env, cwd=cwd, capture_output=True)
        if check and result.returncode != 0:
            sys.exit(f"failed: {' '.join(command)}\n{result.stderr.decode()[-2000:]}")
        return result

    def bucket():
        name = f"large-{uuid.uuid4().hex[:16]}"
        run(aws + ["s3", "mb", f"s3://{name}"])
        return name

    def config(name, endpoint=None):
        return json.dumps({"bucket": name, "endpoint": endpoint or args.endpoint, "forcePathStyle": True})

    # The binaries' pages as a reboot leaves them: swamp's, and the AWS CLI's Python and packages.
    peer = subprocess.run(["python3", "-c", "import sys, awscli, botocore, s3transfer, os; print(sys.executable); "
                           "print(os.path.dirname(os.__file__)); [print(os.path.dirname(m.__file__)) for m in (awscli, botocore, s3transfer)]"],
                          capture_output=True, text=True).stdout.split()
    os.sync()
    evict([os.path.realpath(swamp)] + [os.path.realpath(path) for path in peer])
    proxy = FaultProxy(args.endpoint, work)
    # Also when a step fails (sys.exit) or raises: no proxy left running, no GiB of data left in /tmp.
    atexit.register(lambda: shutil.rmtree(work, ignore_errors=True))
    atexit.register(proxy.stop)

    def push_from_cache(repo, name, models):
        """Model runs write a new version each into the cache and cannot push them (their
        uploads refused by the proxy); then the timed `datastore sync --push`, straight to the server."""
        refuse_uploads(proxy, True)
        for model in models:
            failed = run([swamp, "model", "method", "run", model, "execute", "--datastore", "s3:" + config(name, proxy.endpoint)],
                         cwd=repo, check=False)
            if failed.returncode == 0:
                sys.exit(f"the push of {model}'s run was not refused: nothing is left to push")
        refuse_uploads(proxy, False)
        report = f"{work}/push.json"
        with open(report, "w") as out:
            sample = timed([swamp, "datastore", "sync", "--push", "--json"], env, cwd=repo, stdout=out)
        with open(report) as out:
            pushed = json.load(out).get("pushed", 0)
        if pushed < len(models):
            sys.exit(f"datastore sync --push pushed {pushed} files, not the {len(models)} new versions")
        return sample

    def local_repo(path, files):
        """A repository on the filesystem datastore: one model per (name, file), each run once."""
        os.makedirs(path)
        run([swamp, "repo", "init"], cwd=path)
        for name, source in files:
            run([swamp, "model", "create", "command/shell", name, "--set", f"run=cat '{source}'"], cwd=path)
            run([swamp, "model", "method", "run", name, "execute"], cwd=path)

    def clone(source, path):
        os.makedirs(path)
        shutil.copy(f"{source}/.swamp.yaml", f"{path}/.swamp.yaml")
        shutil.copytree(f"{source}/models", f"{path}/models")

    # The data.
    big = f"{work}/big.bin"
    run(["sh", "-c", f"head -c {int(args.gib * (1 << 30))} /dev/urandom > '{big}'"])
    small_dir = f"{work}/small"
    os.makedirs(small_dir)
    for index in range(args.files):
        run(["sh", "-c", f"head -c {args.file_mib << 20} /dev/urandom > '{small_dir}/f{index:03}.bin'"])
    print(f"data: 1 x {args.gib:g} GiB and {args.files} x {args.file_mib} MiB of random bytes; runs: {args.runs}", file=sys.stderr)
    local_repo(f"{work}/repo-big", [("big", big)])
    local_repo(f"{work}/repo-small", [(f"m{index:03}", f"{small_dir}/f{index:03}.bin") for index in range(args.files)])

    # The flow of the issue, on an S3 datastore from the start.
    name = bucket()
    a = f"{work}/flow-a"
    os.makedirs(a)
    run([swamp, "repo", "init"], cwd=a)
    run([swamp, "model", "create", "command/shell", "big", "--set", f"run=cat '{big}'"], cwd=a)
    run([swamp, "datastore", "setup", "s3", "--config", config(name)], cwd=a)
    flow = [("model method run (writes and pushes)", timed([swamp, "model", "method", "run", "big", "execute"], env, cwd=a))]
    b = f"{work}/flow-b"
    clone(a, b)
    env["SWAMP_HOME"] = f"{work}/home-b"
    flow.append(("second user's datastore sync --pull", timed([swamp, "datastore", "sync", "--pull"], env, cwd=b)))
    with open(f"{work}/got.bin", "wb") as got:
        flow.append(("data get > file", timed([swamp, "data", "get", "big", "result"], env, cwd=b, stdout=got)))
    same = run(["cmp", big, f"{work}/got.bin"], check=False).returncode == 0
    flow_table = [f"| {args.gib:g} GiB flow | s | peak MiB | own MiB |", "|---|---|---|---|"]
    flow_table += [f"| {label} | {seconds:.2f} | {kib / 1024:.0f} | {anon / 1024:.0f} |" for label, (seconds, kib, anon, _, _) in flow]
    flow_table.append(f"\nbytes identical after run → push → pull → data get: {'yes' if same else 'NO'}")
    run(aws + ["s3", "rb", "--force", f"s3://{name}"])
    env["SWAMP_HOME"] = f"{work}/home"
    rows = []
    for label, repo, models, data, aws_up, aws_down in [
        (f"1 x {args.gib:g} GiB", f"{work}/repo-big", ["big"], big, lambda source, b: ["s3", "cp", "--quiet", source, f"s3://{b}/big.bin"],
         lambda b, d: ["s3", "cp", "--quiet", f"s3://{b}/big.bin", f"{d}/big.bin"]),
        (f"{args.files} x {args.file_mib} MiB", f"{work}/repo-small", [f"m{index:03}" for index in range(args.files)], small_dir,
         lambda source, b: ["s3", "sync", "--quiet", source, f"s3://{b}/small"], lambda b, d: ["s3", "sync", "--quiet", f"s3://{b}/small", d]),
    ]:
        samples = {"swamp push": [], "aws push": [], "swamp pull": [], "aws pull": [], "swamp push from the cache": []}
        for index in range(args.runs):
            name = bucket()
            other = bucket()
            pusher = f"{work}/push-{uuid.uuid4().hex[:8]}"
            puller = f"{work}/pull-{uuid.uuid4().hex[:8]}"
            target = tempfile.mkdtemp(dir=work)

            def ours():
                shutil.copytree(repo, pusher)
                samples["swamp push"].append(timed([swamp, "datastore", "setup", "s3", "--config", config(name)], env, cwd=pusher))
                clone(pusher, puller)
                # A teammate: another machine's home, so another cache.
                samples["swamp pull"].append(
                    timed([swamp, "datastore", "sync", "--pull"], dict(env, SWAMP_HOME=f"{work}/home-pull"), cwd=puller))
                samples["swamp push from the cache"].append(push_from_cache(pusher, name, models))

            def theirs():
                # The data written anew just before, as swamp's pushes find theirs (a repository
                # copied, a version just written). On this VM, gigabytes just written change what
                # the server's next gigabytes cost it: pushed right after such a write, a 1 GiB
                # upload's completion took moto 5.6 s against 2.9 s after none (docs/benchmarks.md).
                fresh = f"{work}/fresh"
                copy, remove = (shutil.copytree, shutil.rmtree) if os.path.isdir(data) else (shutil.copy, os.remove)
                copy(data, fresh)
                samples["aws push"].append(timed(aws + aws_up(fresh, other), env))
                remove(fresh)
                samples["aws pull"].append(timed(aws + aws_down(other, target), env))

            # The tools take turns going first: neither always finds the server fresher.
            for step in ((ours, theirs) if index % 2 == 0 else (theirs, ours)):
                step()
            for path in (pusher, puller, target):
                shutil.rmtree(path, ignore_errors=True)
            # The server keeps every object in memory: empty the buckets (moto was OOM-killed without this).
            for used in (name, other):
                run(aws + ["s3", "rb", "--force", f"s3://{used}"])
            shutil.rmtree(f"{work}/home/repos", ignore_errors=True)
            shutil.rmtree(f"{work}/home-pull", ignore_errors=True)
            print(f"  {label} run {index + 1}: " + ", ".join(
                f"{k} {v[-1][0]:.2f} s {v[-1][1] // 1024} MiB ({v[-1][2] // 1024} own, CPU {v[-1][4]:.1f} s, server {v[-1][3]:.1f} s CPU)"
                for k, v in samples.items()),
                  file=sys.stderr)
        rows.append((label, samples))

    print("| transfer | swamp s | aws-cli s | time ratio | swamp peak MiB | aws-cli peak MiB | memory ratio | swamp own MiB | aws-cli own MiB | own ratio "
          "| CPU s: swamp / aws-cli | server CPU s: swamp / aws-cli |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, samples in rows:
        for direction in ("push", "push from the cache", "pull"):
            if f"swamp {direction}" not in samples:
                continue
            ours = samples[f"swamp {direction}"]
            theirs = samples[f"aws {direction.split()[0]}"]
            t_ours, t_theirs = statistics.median(s[0] for s in ours), statistics.median(s[0] for s in theirs)
            m_ours, m_theirs = max(s[1] for s in ours) / 1024, max(s[1] for s in theirs) / 1024
            a_ours, a_theirs = max(s[2] for s in ours) / 1024, max(s[2] for s in theirs) / 1024
            c_ours, c_theirs = statistics.median(s[3] for s in ours), statistics.median(s[3] for s in theirs)
            u_ours, u_theirs = statistics.median(s[4] for s in ours), statistics.median(s[4] for s in theirs)
            print(f"| {label} {direction} | {t_ours:.2f} | {t_theirs:.2f} | {t_ours / t_theirs:.2f}× | {m_ours:.0f} | {m_theirs:.0f} | "
                  f"{m_ours / m_theirs:.2f}× | {a_ours:.0f} | {a_theirs:.0f} | {a_ours / a_theirs:.2f}× | {u_ours:.1f} / {u_theirs:.1f} | "
                  f"{c_ours:.1f} / {c_theirs:.1f} |")

    print()
    print("\n".join(flow_table))
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
