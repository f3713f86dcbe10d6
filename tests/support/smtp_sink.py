"""An SMTP listener for the outbox tests (aiosmtpd).

    python smtp_sink.py --port N --dir DIR [--reply "451 4.3.0 ..."] [--delay-ms N]

Without --reply every message is accepted and written as one file in DIR
(the envelope recipients first, as an `X-Sink-Rcpt:` line). With --reply the
DATA command gets that answer and nothing is stored. Prints "ready" once
listening; stops on SIGTERM.
"""
import argparse
import asyncio
import os
import signal
import threading
import time
import uuid

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, directory, reply, delay):
        self.directory = directory
        self.reply = reply
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.reply:
            return self.reply
        name = "%d.%s.eml" % (time.time_ns(), uuid.uuid4().hex)
        tmp = os.path.join(self.directory, "." + name)
        with open(tmp, "wb") as f:
            f.write(b"X-Sink-Rcpt: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(self.directory, name))
        return "250 2.0.0 Ok: queued as %s" % name[:12]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--reply")
    p.add_argument("--delay-ms", type=int, default=0)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    handler = Handler(a.dir, a.reply, a.delay_ms / 1000.0)
    controller = Controller(handler, hostname="127.0.0.1", port=a.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
