# Types into a real `jupyter console --kernel opsbook` through a pseudo-terminal (so multi-line input goes through is_complete) and prints a JSON transcript.
"""Usage: /usr/bin/python3 jupyter_console_drive.py <console command...>

jupyter console only sends is_complete_request from its prompt_toolkit interface, which needs a terminal;
--simple-prompt reads one line per cell ("Multi-line input not supported"). So this script runs the console
on a pty, waits for each prompt, types a line and presses Enter, like a user. The last line on stdout is a
JSON report: every step with whether its expected text appeared, the console's exit code and the whole
transcript with terminal escape sequences removed.
"""
import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>()][0-9A-Za-z]?|\x1b[78]")

command = sys.argv[1:]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="200", LINES="50")
proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True, start_new_session=True)
os.close(slave)

raw = b""


def pump(timeout):
    """Reads whatever the console printed within `timeout` seconds."""
    global raw
    ready, _, _ = select.select([master], [], [], timeout)
    if not ready:
        return False
    try:
        chunk = os.read(master, 65536)
    except OSError:  # the console closed the terminal
        return False
    raw += chunk
    return bool(chunk)


def text():
    return ANSI.sub("", raw.decode("utf-8", "replace")).replace("\r", "")


def expect(pattern, since, timeout=20.0):
    """Waits until `pattern` appears in the transcript after offset `since`; returns the match end or None."""
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while True:
        m = rx.search(text(), since)
        if m:
            return m.end()
        if time.monotonic() > deadline or proc.poll() is not None and not pump(0.1):
            return None
        pump(0.2)


steps = []


def step(keys, expect_pattern, label, timeout=20.0):
    since = len(text())
    os.write(master, keys.encode())
    end = expect(expect_pattern, since, timeout)
    steps.append({"label": label, "sent": keys, "expected": expect_pattern, "found": end is not None})
    return end is not None


ok = expect(r"In \[1\]: ", 0, 60.0) is not None
steps.append({"label": "first prompt", "sent": "", "expected": r"In \[1\]: ", "found": ok})
if ok:
    step("const n = 20\r", r"In \[2\]: ", "a declaration")
    # Enter after an open brace: the console asks the kernel (is_complete -> incomplete) and continues.
    step("function double(x) {\r", r"\.\.\.: ", "open a function")
    step("return x * 2\r", r"\.\.\.: .*\n.*\.\.\.: ", "function body", 10.0)
    step("}\r", r"In \[3\]: ", "close the function")
    step("double(n) + 2\r", r"In \[4\]: ", "call it")
    step('console.log("from console", n)\r', r"In \[5\]: ", "print")
    # Ctrl-D on an empty prompt ends the console (--no-confirm-exit), which shuts the kernel down.
    os.write(master, b"\x04")

try:
    deadline = time.monotonic() + 20
    while proc.poll() is None and time.monotonic() < deadline:
        pump(0.2)
    while pump(0.1):
        pass
finally:
    if proc.poll() is None:
        proc.kill()
    exit_code = proc.wait()
    os.close(master)

print(json.dumps({"steps": steps, "exit_code": exit_code, "transcript": text()}))
