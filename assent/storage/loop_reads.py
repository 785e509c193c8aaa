"""Statements sent from the event loop itself, on PostgreSQL connections of their own.

A single decision on PostgreSQL is one statement (`services.decisions.decide_one`). Sent from
a worker thread, the request pays for the hop to the thread and back as much as for the round
trip; sent from the event loop on psycopg's `AsyncConnection`, the loop serves other requests
while PostgreSQL answers, and there is no hop. That is all this module does: a small set of
autocommit connections for the running event loop, and `fetchall` of one statement on one.

It never decides what an error means. When it cannot answer — no connection free, a connection
refused or broken, any driver error — `fetchall` gives None and the caller makes the same read
the usual way (`Database.read_once`, in a worker thread), which retries a dead connection and
turns a database that is down into the interfaces' 503. A read is safe to repeat.

Each connection belongs to the event loop that opened it (psycopg waits on the loop it is
called from): one found idle from another loop (a test's app served by a new loop) is closed,
not used.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

#: how the connections show in `pg_stat_activity`
APPLICATION_NAME = "assent-loop-reads"

_Idle = list[tuple[asyncio.AbstractEventLoop, psycopg.AsyncConnection[Any]]]


class LoopReads:
    """At most `size` autocommit connections to the primary, used from the event loop."""

    def __init__(self, url: sa.URL, engine: Engine, size: int) -> None:
        #: the primary's autocommit pool whose statements these are (`Database.read_once`):
        #: the same statements, remembered under the same engine, with its execution options
        self.engine = engine
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._size = size
        self._open = 0
        self._idle: _Idle = []
        self._lock = threading.Lock()
        weakref.finalize(self, _finish_all, self._idle)

    async def fetchall(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]] | None:
        """The rows of one driver-SQL statement (psycopg's placeholders) as tuples, or None
        when this path cannot answer (the caller then reads the usual way)."""
        loop = asyncio.get_running_loop()
        conn, reserved = self._checkout(loop)
        if conn is None:
            if not reserved:  # all `size` in use: no waiting here, the usual way has a pool
                return None
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name=APPLICATION_NAME
                )
            except psycopg.Error:
                self._release_slot()
                return None
            except BaseException:  # cancelled while connecting
                self._release_slot()
                raise
        try:
            cursor = conn.cursor()
            await cursor.execute(sql, params)
            rows = await cursor.fetchall()
        except psycopg.Error:
            self._discard(conn)
            return None
        except BaseException:  # cancelled mid-statement: the connection's state is unknown
            self._discard(conn)
            raise
        with self._lock:
            self._idle.append((loop, conn))
        return rows

    def _checkout(self, loop: asyncio.AbstractEventLoop) -> tuple[psycopg.AsyncConnection[Any] | None, bool]:
        """(an idle connection of this loop, False), else (None, whether a slot was taken
        for a new one). Idle connections of another loop are closed on the way."""
        stale = []
        found, reserved = None, False
        with self._lock:
            while self._idle:
                owner, conn = self._idle.pop()
                if owner is loop and not conn.closed:
                    found = conn
                    break
                stale.append(conn)
                self._open -= 1
            if found is None and self._open < self._size:
                self._open += 1
                reserved = True
        for conn in stale:
            conn.pgconn.finish()
        return found, reserved

    def _release_slot(self) -> None:
        with self._lock:
            self._open -= 1

    def _discard(self, conn: psycopg.AsyncConnection[Any]) -> None:
        conn.pgconn.finish()  # closes the socket at once; no await, so also when cancelled
        self._release_slot()

    def close(self) -> None:
        """Close the idle connections (`Database.dispose`)."""
        with self._lock:
            idle, self._idle[:] = list(self._idle), []
            self._open -= len(idle)
        for _, conn in idle:
            conn.pgconn.finish()


def _finish_all(idle: _Idle) -> None:
    for _, conn in idle:
        conn.pgconn.finish()
