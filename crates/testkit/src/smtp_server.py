"""A real SMTP server for tests (aiosmtpd), on an ephemeral port of 127.0.0.1.

Prints "PORT <n>" once listening. Every accepted message is written to DIR as NNNNNN.eml (the
bytes received) and NNNNNN.json (envelope, Message-ID, Subject, the decoded text/plain and
text/html parts), each written to a temporary name and renamed, so a reader never sees half a
file. Recipients containing any --reject substring are refused with a permanent 550. With
--hold-data S, the server keeps each message S seconds after storing it before it answers 250,
so a test can stop a sender that has handed over a message but not yet heard it accepted.
"""
import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, directory, reject, hold):
        self.directory = directory
        self.reject = reject
        self.hold = hold
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if any(r in address for r in self.reject):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        received_at = time.time()
        n = next(self.counter)
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {}
        for part in message.walk():
            kind = part.get_content_type()
            if kind in ("text/plain", "text/html") and kind not in parts:
                parts[kind] = part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "message_id": str(message.get("Message-ID", "")),
            "subject": str(message.get("Subject", "")),
            "date": str(message.get("Date", "")),
            "content_type": message.get_content_type(),
            "text": parts.get("text/plain", ""),
            "html": parts.get("text/html", ""),
            "received_at": received_at,
        }
        base = os.path.join(self.directory, f"{n:06d}")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(raw)
        os.rename(base + ".eml.tmp", base + ".eml")
        with open(base + ".json.tmp", "w") as f:
            json.dump(record, f)
        os.rename(base + ".json.tmp", base + ".json")
        if self.hold > 0:
            await asyncio.sleep(self.hold)
        return "250 Message accepted for delivery"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--hold-data", type=float, default=0.0)
    parser.add_argument("--starttls-cert")
    parser.add_argument("--starttls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()
    handler = Handler(args.dir, args.reject, args.hold_data)
    options, wrap = {}, None
    if args.starttls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.starttls_cert, args.starttls_key)
        if args.implicit_tls:
            # TLS from the first byte (SMTPS).
            wrap = context
        else:
            # STARTTLS offered and required before MAIL.
            options = {"tls_context": context, "require_starttls": True}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp.test", **options), "127.0.0.1", 0, ssl=wrap
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    # Ends when the test closes our stdin (or kills us).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
