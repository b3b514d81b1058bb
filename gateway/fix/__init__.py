"""The FIX 4.4 order-entry gateway: framing, the session layer, the acceptor."""
