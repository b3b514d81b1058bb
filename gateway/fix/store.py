"""A FIX session's state on disk, so that a restart resumes its sequence numbers and can
still answer ResendRequests.

The file is a log of JSON lines, each the change of one step: ``[next_in, next_out, day,
[[seq, msg_type, body, sending_time], ...]]`` with the application messages sent in that
step (``body``: their fields as sent, ``tag=value<SOH>...``). Loading replays the lines;
a last line cut short by a crash is ignored: the acceptor saves a step before it writes
the step's messages to the socket, so the client never saw them. A reset (a new session
day, or ResetSeqNumFlag) rewrites the file with the new state alone. Only the newest
``keep`` messages are held; older ones are answered with a gap fill.

Lines are written through the file's buffer and flushed after each step: the operating
system holds them once the call returns, so a crash of the process loses nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

import msgspec

from gateway.fix.session import SessionState

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(tuple[int, int, str, list[tuple[int, str, str, str]]])


class SessionLog:
    def __init__(self, path: Path, keep: int = 200_000) -> None:
        self.path = path
        self.keep = keep
        self._file: IO[bytes] | None = None
        self._saved = (0, 0, "")

    def load(self) -> SessionState:
        state = SessionState()
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                try:
                    next_in, next_out, day, sent = _decoder.decode(line)
                except msgspec.DecodeError:
                    break  # a torn last line
                if next_out < state.next_out or day != state.day:
                    state.sent = {}  # a reset was written here
                state.next_in, state.next_out, state.day = next_in, next_out, day
                for seq, msg_type, body, stamp in sent:
                    state.sent[seq] = (msg_type, body, stamp)
                self._prune(state)
        self._saved = (state.next_in, state.next_out, state.day)
        self.rewrite(state)  # compacted: the log starts again from this state
        return state

    def save(self, state: SessionState, next_in: int | None = None) -> None:
        """Append what changed since the last save (rewriting on a reset). ``next_in``, when
        given, is the inbound number to keep instead of the state's: the acceptor holds it
        back while the orders of messages after it are not durable."""
        last_in, last_out, last_day = self._saved
        kept_in = state.next_in if next_in is None else next_in
        if (kept_in, state.next_out, state.day) == self._saved:
            return
        if state.next_out < last_out or kept_in < last_in or state.day != last_day:
            self.rewrite(state)
            return
        new = [(seq, *state.sent[seq]) for seq in range(last_out, state.next_out)
               if seq in state.sent]
        self._write([kept_in, state.next_out, state.day, new])
        self._saved = (kept_in, state.next_out, state.day)
        self._prune(state)

    def rewrite(self, state: SessionState) -> None:
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("wb") as out:
            sent = [(seq, *entry) for seq, entry in state.sent.items()]
            out.write(_encoder.encode([state.next_in, state.next_out, state.day, sent]) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.path)
        self._saved = (state.next_in, state.next_out, state.day)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, record: list) -> None:
        if self._file is None:
            self._file = self.path.open("ab")
        self._file.write(_encoder.encode(record) + b"\n")
        self._file.flush()

    def _prune(self, state: SessionState) -> None:
        sent = state.sent
        while len(sent) > self.keep:
            del sent[next(iter(sent))]
