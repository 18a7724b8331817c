"""Redis access: key names, Lua scripts and connections. Bytes in, bytes out."""
