"""The visitor's address for the login and code throttles, fed from Streamlit's connection context
to the pure rule in services/clientaddr.py (which headers to believe, from whom)."""
from __future__ import annotations

import streamlit as st

from services.clientaddr import client_address as pick_client_address
from ui import state


def client_address() -> str:
    # st.context.ip_address is the connection's peer (None for loopback); the headers are those of
    # the request that opened the websocket, as the proxy forwarded them.
    headers = st.context.headers
    real_ip = headers.get_all("X-Real-IP")
    peer = st.context.ip_address
    if not isinstance(peer, str):  # AppTest's stand-in client has no address: as a local visitor
        peer = None
    return pick_client_address(peer=peer, forwarded_for=headers.get_all("X-Forwarded-For"),
                               real_ip=real_ip[-1] if real_ip else None,
                               trusted=state.runtime().settings.trusted_proxies)
