"""The link between host and guest: the host side of `call_tool` (host), the guest<->host
messages (protocol), the program's HTTP egress (http_egress; its connections: http_fetch)
and its clock (clock). What happens to a tool call once it is on the host lives in
`codeact.calls`."""
