# The bench's "right after start" measurement: Debian's jupyter_client starts a kernel the way every frontend does
# (KernelManager + BlockingKernelClient), waits until it is ready, then sends `runs` executes of one trivial cell,
# one after the other, and times each from just before it is sent to the arrival of its idle status (both kernels
# publish it after the execute_reply). Prints one JSON line: {"idle_ms": [...], "ready_s": ..., "not_ok": n}.
"""Usage: /usr/bin/python3 first_executes.py KERNEL_JSON RUNS

KERNEL_JSON is a kernelspec's kernel.json as a JSON string ({"argv": [...], "env": {...}, "code": "1"}); the
script writes it into a temporary kernelspec folder and starts it through jupyter_client's KernelManager.
"""
import json
import os
import shutil
import sys
import tempfile
import time

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

TIMEOUT = 30

spec = json.loads(sys.argv[1])
runs = int(sys.argv[2])
code = spec.pop("code")
spec_dir = tempfile.mkdtemp(prefix="opsbook-bench-spec-")
kernel_dir = os.path.join(spec_dir, "kernels", "bench")
os.makedirs(kernel_dir)
with open(os.path.join(kernel_dir, "kernel.json"), "w") as f:
    json.dump({"display_name": "bench", "language": "any", **spec}, f)

km = KernelManager(kernel_name="bench", kernel_spec_manager=KernelSpecManager(kernel_dirs=[os.path.join(spec_dir, "kernels")]))
report = {"idle_ms": [], "not_ok": 0}
try:
    started = time.monotonic()
    km.start_kernel(cwd=os.environ.get("OPSBOOK_BENCH_CWD"))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    report["ready_s"] = round(time.monotonic() - started, 3)
    for _ in range(runs):
        t0 = time.perf_counter()
        msg_id = kc.execute(code)
        idle_at = None
        while idle_at is None:
            msg = kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle_at = time.perf_counter()
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=TIMEOUT)
        report["idle_ms"].append((idle_at - t0) * 1000)
        if reply["content"]["status"] != "ok":
            report["not_ok"] += 1
    kc.stop_channels()
finally:
    km.shutdown_kernel(now=True)
    shutil.rmtree(spec_dir, ignore_errors=True)
print(json.dumps(report))
