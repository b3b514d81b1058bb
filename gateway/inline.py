"""A WebSocket connection whose requests are answered as they are read, when they can be.

websockets hands every message it reads to the connection's handler task through a queue:
the read callback queues it and the task takes it on a later turn of the event loop. Most
requests wait for nothing (an order is queued to the node and answered from its receipt's
callback; queries read the gateway's own state), so for them that hop is pure cost.
`InlineConnection` offers each whole data frame to ``answer_now`` in the read callback; a
frame it declines (a login, an admin operation, anything that waits on another service or
on the key's shared rate limit) goes to the handler task as before.

Requests on one connection keep their order: a frame is offered only while no message is
queued for the handler task or being handled by it, so nothing overtakes a frame that had
to wait.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

WHOLE_MESSAGES = (Opcode.TEXT, Opcode.BINARY)
LAST_FRAMES = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


class InlineConnection(ServerConnection):
    # Set by the gateway's handler once the connection is set up: True when the frame was
    # handled, False when it must go to the handler task.
    answer_now: Callable[[bytes | str], bool] | None = None
    # Messages handed to the handler task that it has not finished with.
    queued = 0

    def process_event(self, event: Event) -> None:
        if type(event) is not Frame:  # the handshake request
            super().process_event(event)
            return
        if event.fin and event.opcode in LAST_FRAMES:
            answer = self.answer_now
            if answer is not None and not self.queued and event.opcode in WHOLE_MESSAGES:
                payload = _payload(event)
                if payload is not None and answer(payload):
                    return
            self.queued += 1
        super().process_event(event)

    def handled(self) -> None:
        """The handler task has finished with one message it took from the queue."""
        self.queued -= 1


def _payload(frame: Frame) -> bytes | str | None:
    """The message as the handler task would get it: text decoded, binary as bytes. None
    for text that is not UTF-8, which is left to the handler task's usual path."""
    if frame.opcode is Opcode.BINARY:
        return frame.data
    try:
        return frame.data.decode()
    except UnicodeDecodeError:
        return None
