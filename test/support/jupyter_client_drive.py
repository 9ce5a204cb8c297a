# Drives the installed opsbook kernelspec with jupyter_client (KernelManager + BlockingKernelClient) and prints one JSON report.
"""Usage: /usr/bin/python3 jupyter_client_drive.py [kernel_name]

Starts the kernel the way every Jupyter frontend does, runs kernel_info, an execute with output, interrupts a
busy loop with km.interrupt_kernel() (interrupt_mode "message" sends interrupt_request on control), checks
that execution continues with its state, shuts down with km.shutdown_kernel() and checks the process is gone.
Each step records what it observed; the last line on stdout is the JSON report that the jest test asserts on.
A step that raises is recorded as {"error": ...} so later steps and the report still happen.
"""
import json
import os
import sys
import time
import traceback
from queue import Empty

from jupyter_client.manager import KernelManager

KERNEL = sys.argv[1] if len(sys.argv) > 1 else "opsbook"
TIMEOUT = 30
report = {"kernel_name": KERNEL, "steps": {}}


def run_step(name, fn):
    try:
        report["steps"][name] = fn()
    except Exception as e:  # noqa: BLE001 - recorded for the jest side
        report["steps"][name] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}


def execute(kc, code, timeout=TIMEOUT):
    """execute_interactive, collecting the IOPub messages of this request (status excluded)."""
    outputs = []

    def hook(msg):
        if msg["msg_type"] != "status":
            outputs.append({"msg_type": msg["msg_type"], "content": msg["content"]})

    reply = kc.execute_interactive(code, output_hook=hook, timeout=timeout, allow_stdin=False)
    return {"reply": reply["content"], "outputs": outputs}


km = KernelManager(kernel_name=KERNEL)
started = time.monotonic()
km.start_kernel()
proc = km.provisioner.process if km.provisioner is not None else None
pid = proc.pid if proc is not None else None
report["pid"] = pid
report["interrupt_mode"] = km.kernel_spec.interrupt_mode
report["resource_dir"] = km.kernel_spec.resource_dir
kc = km.client()
kc.start_channels()

try:
    def ready():
        kc.wait_for_ready(timeout=TIMEOUT)
        return {"seconds": round(time.monotonic() - started, 3)}

    run_step("ready", ready)

    def kernel_info():
        reply = kc.kernel_info(reply=True, timeout=TIMEOUT)
        return {"msg_type": reply["msg_type"], "content": reply["content"]}

    run_step("kernel_info", kernel_info)

    run_step("execute", lambda: execute(kc, 'const greeting = "hello from opsbook";\nconsole.log(greeting);\n6 * 7'))

    def interrupt():
        # A cell that never yields: only the control channel plus the kernel's interrupt path can stop it.
        while True:  # drop anything old
            try:
                kc.get_iopub_msg(timeout=0.1)
            except Empty:
                break
        msg_id = kc.execute("let spins = 0; while (true) { spins++ }")
        busy = False
        deadline = time.monotonic() + TIMEOUT
        while not busy and time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "busy":
                busy = True
        time.sleep(0.5)  # let it spin
        # A busy kernel must not answer shell requests in between, but the reply must not exist yet either.
        try:
            early = kc.get_shell_msg(timeout=0.2)
            early_reply = {"msg_type": early["msg_type"], "content": early["content"]}
        except Empty:
            early_reply = None
        t0 = time.monotonic()
        km.interrupt_kernel()
        reply = None
        while time.monotonic() - t0 < TIMEOUT:
            try:
                msg = kc.get_shell_msg(timeout=1)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                reply = msg
                break
        elapsed = time.monotonic() - t0
        errors = []
        idle = False
        deadline = time.monotonic() + 5
        while not idle and time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "error":
                errors.append(msg["content"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        return {
            "saw_busy": busy,
            "early_reply": early_reply,
            "reply": reply["content"] if reply else None,
            "seconds_to_reply": round(elapsed, 3),
            "error_outputs": errors,
            "idle": idle,
        }

    run_step("interrupt", interrupt)

    # State from before the interrupt survives, and the interrupted cell's progress is visible.
    run_step("after_interrupt", lambda: execute(kc, 'console.log(greeting.toUpperCase()); typeof spins === "number" && spins > 0'))

    def alive_before_shutdown():
        return {"is_alive": km.is_alive(), "heartbeat": kc.is_alive()}

    run_step("alive_before_shutdown", alive_before_shutdown)
finally:
    def shutdown():
        t0 = time.monotonic()
        kc.stop_channels()
        km.shutdown_kernel(now=False)
        seconds = round(time.monotonic() - t0, 3)
        exit_code = proc.poll() if proc is not None else None
        gone = True
        if pid is not None:
            try:
                os.kill(pid, 0)
                gone = False
                # A zombie still answers kill(0); its state letter says it has exited.
                with open(f"/proc/{pid}/stat") as f:
                    gone = f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except ProcessLookupError:
                gone = True
            except FileNotFoundError:
                gone = True
        return {"seconds": seconds, "exit_code": exit_code, "process_gone": gone, "is_alive_after": km.is_alive()}

    run_step("shutdown", shutdown)

print(json.dumps(report, default=str), flush=True)
del kc, km  # before interpreter teardown, where KernelClient.__del__ would log into a dismantled logging module
