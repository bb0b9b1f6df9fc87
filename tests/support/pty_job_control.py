"""Runs `dynamic-port run` on a real pseudo-terminal and types at it as a
user would.

    python3 pty_job_control.py DYNAMIC_PORT_BINARY SCRATCH_DIR [shell|session-leader]

`shell` (the default): dynamic-port is a job of a real interactive bash. The
program reads a line typed into the terminal; Ctrl-Z stops it and
dynamic-port (both in state T, bash says Stopped); bash's own `fg` continues
both, the program gets the terminal back and reads a second line; and
dynamic-port exits with the program's status. Then `--then`'s command reads
the terminal too.

`session-leader`: dynamic-port is the session's first process (as under
`ssh -t host dynamic-port run ...`), so no shell could continue it: the
kernel discards its stop, and dynamic-port continues the program it stopped
at once, which reads its second line.

Exits 0 when all of that holds, else 1 with what the terminal showed.
"""

import os
import pty
import re
import select
import shlex
import signal
import sys
import time

binary, scratch = sys.argv[1], sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else "shell"
program_pid_file = os.path.join(scratch, "program.pid")
conts_file = os.path.join(scratch, "conts")
program = os.path.join(scratch, "program.sh")
# A helper in the program's process group notes every SIGCONT the group gets.
counter = """import signal, sys
def note(*_):
    open(sys.argv[1], "a").write("cont\\n")
signal.signal(signal.SIGCONT, note)
open(sys.argv[1], "a").write("ready\\n")
while True:
    signal.pause()
"""
with open(program, "w") as f:
    f.write(
        f"""python3 -c {shlex.quote(counter)} {shlex.quote(conts_file)} &
counter=$!
until [ -s {shlex.quote(conts_file)} ]; do sleep 0.01; done
echo $$ > {shlex.quote(program_pid_file)}
echo 4321 >&"${{2%%:*}}"
read -r line; echo "got:$line"
read -r line; echo "again:$line"
kill $counter
exit 7
"""
    )


def conts():
    """How many SIGCONTs the program's group has had."""
    with open(conts_file) as f:
        return f.read().split().count("cont")


def conts_are(wanted, when):
    """Waits for `wanted` SIGCONTs, then makes sure no more come."""
    end = time.monotonic() + 5
    while conts() < wanted and time.monotonic() < end:
        time.sleep(0.01)
    time.sleep(0.3)
    if conts() != wanted:
        fail(f"{when}, the program's group had {conts()} SIGCONTs, not {wanted}")

env = dict(os.environ, PS1="prompt$ ", TERM="dumb")
pid, master = pty.fork()
if pid == 0:
    if mode == "session-leader":
        os.execv(binary, [binary, "run", "--", "bash", program])
    os.execvpe("bash", ["bash", "--norc", "--noprofile", "--noediting", "-i"], env)

output = bytearray()


def fail(why):
    sys.stderr.write(f"{why}\n--- the terminal showed:\n{output.decode(errors='replace')}\n")
    os.kill(pid, signal.SIGKILL)
    for pid_file in [program_pid_file]:
        try:
            os.kill(int(open(pid_file).read()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    sys.exit(1)


def read_until(pattern, after=0, timeout=10.0):
    """Reads the terminal until `pattern` shows up past offset `after`."""
    end = time.monotonic() + timeout
    while True:
        found = re.compile(pattern).search(output, after)
        if found:
            return found
        left = end - time.monotonic()
        if left <= 0:
            fail(f"{pattern!r} did not show within {timeout} s")
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                data = b""
            if not data:
                fail(f"the terminal closed before {pattern!r} showed")
            output.extend(data)


def state(process):
    """The state letter of `process` in /proc (R, S, T, Z...), or None once gone."""
    try:
        with open(f"/proc/{process}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def parent(process):
    with open(f"/proc/{process}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def await_state(process, wanted, what, timeout=5.0):
    end = time.monotonic() + timeout
    while state(process) not in wanted:
        if time.monotonic() > end:
            fail(f"{what} (pid {process}) is in state {state(process)}, not {wanted}")
        time.sleep(0.01)


def blocked_in_read(process, timeout=5.0):
    """Waits until `process` sleeps reading the terminal (not stopped)."""
    end = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{process}/wchan") as f:
                wchan = f.read()
        except OSError:
            wchan = ""
        if state(process) == "S" and ("tty" in wchan or "wait_woken" in wchan or wchan == "0"):
            return
        if time.monotonic() > end:
            fail(f"the program (pid {process}) is not reading: state {state(process)}, wchan {wchan!r}")
        time.sleep(0.01)


def send(data):
    os.write(master, data)


def started(shown):
    """The pids of the program and of dynamic-port, once the port is printed."""
    shown = read_until(rb"4321\r?\n", shown).end()
    end = time.monotonic() + 5
    while not os.path.exists(program_pid_file) or not open(program_pid_file).read().strip():
        if time.monotonic() > end:
            fail("the program wrote no pid")
        time.sleep(0.01)
    program_pid = int(open(program_pid_file).read())
    return shown, program_pid, parent(program_pid)


def the_program_holds_the_terminal(program_pid, when):
    if os.tcgetpgrp(master) != program_pid:
        fail(f"{when}, the foreground group is {os.tcgetpgrp(master)}, not the program's {program_pid}")


if mode == "session-leader":
    shown, program_pid, dynamic_port = started(0)
    if dynamic_port != pid:
        fail(f"the program's parent is {dynamic_port}, not dynamic-port {pid}")
    blocked_in_read(program_pid)
    the_program_holds_the_terminal(program_pid, "at first")
    send(b"hello\n")
    shown = read_until(rb"got:hello", shown).end()
    blocked_in_read(program_pid)
    send(b"\x1a")
    # Stopped by the terminal, then continued by dynamic-port, whose own
    # stop the kernel discards.
    end = time.monotonic() + 5
    while state(program_pid) != "T":
        if time.monotonic() > end:
            fail(f"Ctrl-Z did not stop the program: state {state(program_pid)}")
        time.sleep(0.001)
    blocked_in_read(program_pid)
    the_program_holds_the_terminal(program_pid, "after Ctrl-Z")
    conts_are(1, "after Ctrl-Z")
    send(b"world\n")
    shown = read_until(rb"again:world", shown).end()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 7:
        fail(f"dynamic-port exited with {os.waitstatus_to_exitcode(status)}, not the program's 7")
    print("ok")
    sys.exit(0)

shown = read_until(rb"prompt\$ ").end()
send(f"{shlex.quote(binary)} run -- bash {shlex.quote(program)}\n".encode())
shown, program_pid, dynamic_port = started(shown)

# The program, not dynamic-port and not bash, holds the terminal; it got it
# with SIGTTOU blocked for a moment, and runs with it unblocked.
blocked_in_read(program_pid)
with open(f"/proc/{program_pid}/status") as f:
    blocked = int(next(l for l in f if l.startswith("SigBlk:")).split()[1], 16)
if blocked & (1 << (signal.SIGTTOU - 1)):
    fail("the program runs with SIGTTOU blocked")
if os.tcgetpgrp(master) != program_pid:
    fail(f"the foreground group is {os.tcgetpgrp(master)}, not the program's {program_pid}")
send(b"hello\n")
shown = read_until(rb"got:hello", shown).end()

# Ctrl-Z stops the pair, and bash takes the terminal back.
blocked_in_read(program_pid)
send(b"\x1a")
await_state(program_pid, "T", "the program")
await_state(dynamic_port, "T", "dynamic-port")
shown = read_until(rb"Stopped", shown).end()
shown = read_until(rb"prompt\$ ", shown).end()
time.sleep(0.2)
if state(program_pid) != "T" or state(dynamic_port) != "T":
    fail(f"the pair did not stay stopped: {state(program_pid)} {state(dynamic_port)}")

# bash's own fg continues both, and the program reads the terminal again;
# fg's status is the job's.
send(b'fg; echo "status:$?"\n')
await_state(dynamic_port, "SR", "dynamic-port after fg")
blocked_in_read(program_pid)
conts_are(1, "after fg")
if os.tcgetpgrp(master) != program_pid:
    fail(f"after fg the foreground group is {os.tcgetpgrp(master)}, not the program's {program_pid}")

# TSTP sent to dynamic-port itself (`kill -TSTP`, not Ctrl-Z), after a stop
# and a fg: passed on, it stops the program's group, then dynamic-port.
os.kill(dynamic_port, signal.SIGTSTP)
await_state(program_pid, "T", "the program after kill -TSTP")
await_state(dynamic_port, "T", "dynamic-port after kill -TSTP")
shown = read_until(rb"Stopped", shown).end()
shown = read_until(rb"prompt\$ ", shown).end()
send(b'fg; echo "status:$?"\n')
await_state(dynamic_port, "SR", "dynamic-port after the second fg")
blocked_in_read(program_pid)
conts_are(2, "after the second fg")
send(b"world\n")
shown = read_until(rb"again:world", shown).end()
shown = read_until(rb"status:(\d+)", shown)
if shown.group(1) != b"7":
    fail(f"dynamic-port exited with {shown.group(1)!r}, not the program's 7")

# --then's command runs in the foreground too, and reads the terminal.
shown = read_until(rb"prompt\$ ", shown.end()).end()
then = """read -r line; echo "then:$line"; exit 5"""
server = """echo 4322 >&"${2%%:*}"; exec sleep 60"""
send(f"{shlex.quote(binary)} run --then {shlex.quote(then)} -- bash -c {shlex.quote(server)} bash\n".encode())
shown = read_until(rb"4322\r?\n", shown).end()
# --then's command holds the terminal and reads it; Ctrl-Z stops it and
# dynamic-port; fg continues them (the status line is fg's).
then_pid = None
end = time.monotonic() + 5
while then_pid is None:
    try:
        foreground = os.tcgetpgrp(master)
        # `sh -c CMD`, not dynamic-port, whose command line has CMD too.
        if open(f"/proc/{foreground}/cmdline", "rb").read().startswith(b"sh\0-c\0"):
            then_pid = foreground
    except OSError:
        pass
    if time.monotonic() > end:
        fail("--then's command does not hold the terminal")
    time.sleep(0.01)
blocked_in_read(then_pid)
send(b"\x1a")
await_state(then_pid, "T", "--then's command")
shown = read_until(rb"Stopped", shown).end()
shown = read_until(rb"prompt\$ ", shown).end()
send(b'fg; echo "status:$?"\n')
blocked_in_read(then_pid)
send(b"hi\n")
shown = read_until(rb"then:hi", shown).end()
shown = read_until(rb"status:(\d+)", shown)
if shown.group(1) != b"5":
    fail(f"dynamic-port --then exited with {shown.group(1)!r}, not the command's 5")

send(b"exit\n")
os.waitpid(pid, 0)
print("ok")
