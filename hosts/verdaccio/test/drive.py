#!/usr/bin/env python3
"""Runs a command under a pseudo-terminal and answers its prompts (npm prompts only on a TTY).

usage: drive.py [--secret-from REGEX] 'PROMPT_REGEX=>ANSWER' ... -- COMMAND...
An ANSWER of {totp} is the current RFC 6238 code of the base32 secret captured by
--secret-from's first group, computed here with hmac, independently of the engine.
Prints everything the command writes as it comes; exits with its exit code."""
import base64, hmac, os, pty, re, select, struct, sys, time

def totp(secret_b32, t=None):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time() if t is None else t) // 30), "sha1").digest()
    o = mac[-1] & 15
    return str((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10 ** 6).zfill(6)

args = sys.argv[1:]
secret_re = None
if args[:1] == ["--secret-from"]:
    secret_re, args = re.compile(args[1]), args[2:]
sep = args.index("--")
rules = [a.split("=>", 1) for a in args[:sep]]
cmd = args[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out, buf, secret = "", "", None
deadline = time.time() + 120
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if fd not in r:
        continue
    try:
        data = os.read(fd, 4096).decode("utf8", "replace")
    except OSError:
        break
    if not data:
        break
    out += data
    buf += data
    # Streamed as it comes, so a caller can react while the command still runs.
    sys.stdout.write(data)
    sys.stdout.flush()
    if secret_re and secret is None:
        m = secret_re.search(out)
        if m:
            secret = m.group(1)
    for i, (pattern, answer) in enumerate(rules):
        if pattern and re.search(pattern, buf):
            if "{totp}" in answer:
                answer = answer.replace("{totp}", totp(secret))
            os.write(fd, (answer + "\r").encode())
            rules[i] = (None, None)
            buf = ""
            break
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
