"""Run the sandbox: ``python -m sandbox --host 127.0.0.1 --port 8100`` (dev/test only)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from werkzeug.serving import make_server

from .app import SERVICES, create_app

logger = logging.getLogger("sandbox")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Local stand-ins for external services (FX rates, ...), dev/test only.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port (default 8100)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    args = parser.parse_args(argv)

    # The werkzeug logger prints one line per request.
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    server = make_server(args.host, args.port, create_app(), threaded=True)
    logger.info(
        "sandbox serving %s on http://%s:%s (controls at /_controls)",
        ", ".join(service.name for service in SERVICES),
        args.host,
        server.port,
    )
    # Process managers (honcho in `make run`) stop us with SIGTERM: exit the same clean way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        logger.info("sandbox stopped")


if __name__ == "__main__":
    main()
