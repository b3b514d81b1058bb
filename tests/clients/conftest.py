"""The gateway tests' real node and traders serve the client tests too."""

from tests.gateway.conftest import exchange, limits

__all__ = ["exchange", "limits"]
