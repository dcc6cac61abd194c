"""The Kvorum web application as Streamlit's ASGI app (st.App): app.py as the script, and the browser
gate (ui/gate.py) in front of it. serve.py (`make run`) starts it with `streamlit run asgi.py`."""
import streamlit as st
from starlette.middleware import Middleware

from ui.gate import BrowserGate, redact_session_ids_in_logs

redact_session_ids_in_logs()
app = st.App("app.py", middleware=[Middleware(BrowserGate)])
