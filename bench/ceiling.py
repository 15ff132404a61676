"""The static-bytes ceiling of bench/cached.py: one response, held in memory, served to every request by the
same uvicorn, with the settings `broadsheet serve` gives it (one worker, access log off, uvicorn's default
loop and HTTP implementation), so the only difference to the real server is the work the real server does.

    BENCH_CEILING_BODY=page.json BENCH_CEILING_HEADERS=headers.json python bench/ceiling.py PORT

``BENCH_CEILING_HEADERS``: a JSON list of ``[name, value]``, the headers to send (the real answer's, so that
both send the same bytes: a front page's surrogate keys alone are about 6 KB, which uvicorn checks and
writes); without it, only the content type (``BENCH_CEILING_TYPE``) and length.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

Scope = dict[str, Any]
Message = dict[str, Any]


def create_app() -> Any:
    body = Path(os.environ["BENCH_CEILING_BODY"]).read_bytes()
    listed = os.environ.get("BENCH_CEILING_HEADERS")
    if listed:
        pairs = json.loads(Path(listed).read_text(encoding="utf-8"))
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]
    else:
        headers = [
            (b"content-type", os.environ["BENCH_CEILING_TYPE"].encode()),
            (b"content-length", str(len(body)).encode()),
        ]

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # nothing to start or stop, but uvicorn asks
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


if __name__ == "__main__":
    # As broadsheet.cli.serve calls it, but for the app.
    uvicorn.run(
        "ceiling:create_app",
        factory=True,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        workers=1,
        reload=False,
        log_level="info",
        access_log=False,
    )
