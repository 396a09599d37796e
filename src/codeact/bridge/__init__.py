"""The two ends of `call_tool`: wire frames (protocol) and the host side (host)."""
