"""The webhook endpoint of ``runbot --webhook``: a small HTTP/1.1 server (asyncio and h11, both
already here through PTB's HTTP client) that accepts Telegram's POSTs behind the reverse proxy.

PTB's own webhook server needs tornado, which this project does not install; this one does the
same few things: only POSTs to the configured path, only with the right
``X-Telegram-Bot-Api-Secret-Token`` (compared in constant time; wrong or missing answers 403 and
nothing is processed), bodies up to 1 MB, and the update is put on the Application's queue,
which PTB processes as it does for its own server.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

import h11
from telegram import Update
from telegram.ext import Application

logger = logging.getLogger(__name__)

SECRET_HEADER = b"x-telegram-bot-api-secret-token"
MAX_BODY = 1_048_576
READ_TIMEOUT = 10.0


async def accept(
    application: Application[Any, Any, Any, Any, Any, Any],
    *,
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    path: str,
    secret: str,
) -> int:
    """The HTTP status for one request; a valid update is queued for processing."""
    if target.split(b"?", 1)[0] != path.encode():
        return 404
    if method != b"POST":
        return 405
    given = next((value for name, value in headers if name.lower() == SECRET_HEADER), b"")
    if not secret or not hmac.compare_digest(given, secret.encode()):
        return 403
    if len(body) > MAX_BODY:
        return 413
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not an update")
        update = Update.de_json(data, application.bot)
    except Exception as exc:  # any shape Telegram would never send
        logger.warning("webhook: unreadable update refused (%s)", type(exc).__name__)
        return 400
    await application.update_queue.put(update)
    return 200


async def _respond(conn: h11.Connection, writer: asyncio.StreamWriter, status: int) -> None:
    body = b"" if status == 200 else str(status).encode()
    headers = [("content-length", str(len(body))), ("connection", "close")]
    data = conn.send(h11.Response(status_code=status, headers=headers))
    data = (
        (data or b"")
        + (conn.send(h11.Data(data=body)) or b"")
        + (conn.send(h11.EndOfMessage()) or b"")
    )
    writer.write(data)
    await writer.drain()


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[h11.Request, bytes] | int | None:
    """The request and its body, a status to refuse it with, or None when the client went
    away before sending one (a port check by the proxy or a monitor): nothing to answer."""
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            chunk = await asyncio.wait_for(reader.read(65536), READ_TIMEOUT)
            conn.receive_data(chunk)
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                return 413
        elif isinstance(event, h11.EndOfMessage) and request is not None:
            return request, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None


async def start_server(
    application: Application[Any, Any, Any, Any, Any, Any],
    *,
    host: str,
    port: int,
    path: str,
    secret: str,
) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
        try:
            read = await _read_request(conn, reader)
            if read is None:
                return
            if isinstance(read, int):
                status = read
            else:
                request, body = read
                status = await accept(
                    application,
                    method=request.method,
                    target=request.target,
                    headers=list(request.headers),
                    body=body,
                    path=path,
                    secret=secret,
                )
            await _respond(conn, writer, status)
        except (h11.RemoteProtocolError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, host, port)
