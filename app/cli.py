"""The ``dsct`` command: ``serve``, ``solve``, ``export-openapi``, ``experiments``."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence


def _settings():
    from app.settings import SettingsError, from_env

    try:
        return from_env()
    except SettingsError as exc:
        print(f"dsct: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _prepare_multiproc_dir(workers: int) -> None:
    """Several workers share their metrics through files: a fresh directory, or the given one
    emptied of stale values, set before any worker imports prometheus_client."""
    var = "PROMETHEUS_MULTIPROC_DIR"
    path = os.environ.get(var)
    if not path:
        if workers <= 1:
            return
        path = tempfile.mkdtemp(prefix="dsct-metrics-")
        os.environ[var] = path
        return
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))


def serve(args: argparse.Namespace) -> int:
    settings = _settings()
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    workers = args.workers or settings.workers
    created = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    _prepare_multiproc_dir(workers)
    import uvicorn

    # uvicorn finishes the requests in flight on SIGTERM, then re-raises the signal to the
    # previous handler: make that a clean exit (status 0) rather than death by signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        uvicorn.run(
            "app.main:app",
            host=host,
            port=port,
            workers=workers,
            http="httptools",
            loop="uvloop",
            log_level=settings.log_level.lower(),
            access_log=False,  # dsct.access logs one JSON line per request instead
            timeout_graceful_shutdown=int(settings.solve_timeout) + 5,
        )
    finally:
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if created and path and os.path.basename(path).startswith("dsct-metrics-"):
            shutil.rmtree(path, ignore_errors=True)
    return 0


def solve_cmd(args: argparse.Namespace) -> int:
    settings = _settings()
    from app.api.service import dumps, schedule_json
    from app.errors import ApiError

    try:
        body = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
    except OSError as exc:
        print(f"dsct solve: {exc}", file=sys.stderr)
        return 2
    if len(body) > settings.max_body_bytes:
        err = ApiError("body_too_large", f"body of {len(body)} bytes is over the limit of {settings.max_body_bytes} bytes")
        sys.stderr.write(dumps(err.body()).decode() + "\n")
        return 2
    try:
        out = schedule_json(body, settings)
    except ApiError as err:
        sys.stderr.write(dumps(err.body()).decode() + "\n")
        return 2
    sys.stdout.write(out.decode() + "\n")
    return 0


def export_openapi(args: argparse.Namespace) -> int:
    from app.api.openapi import write

    return write(args.output)


def experiments(argv: Sequence[str]) -> int:
    try:
        from app.experiments.cli import main as experiments_main  # type: ignore[import-not-found]
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("app.experiments"):
            print("dsct experiments: the experiments module (app.experiments.cli) is not installed "
                  "in this build", file=sys.stderr)
            return 2
        raise
    result = experiments_main(list(argv))
    return int(result or 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["experiments"]:
        return experiments(argv[1:])
    parser = argparse.ArgumentParser(prog="dsct", description="DSCT scheduling service")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the HTTP service (uvicorn, httptools, uvloop)")
    p.add_argument("--host", help="default: DSCT_HOST or 127.0.0.1")
    p.add_argument("--port", type=int, help="default: DSCT_PORT or 8000")
    p.add_argument("--workers", type=int, help="default: DSCT_WORKERS or 2")
    p.set_defaults(func=serve)
    p = sub.add_parser("solve", help="solve a batch offline: prints what POST /schedule returns")
    p.add_argument("file", help="request JSON file, or - for stdin")
    p.set_defaults(func=solve_cmd)
    p = sub.add_parser("export-openapi", help="write the OpenAPI document")
    p.add_argument("-o", "--output", default="openapi/openapi.json", help="default: openapi/openapi.json; - for stdout")
    p.set_defaults(func=export_openapi)
    sub.add_parser("experiments", help="the paper's experiments (app.experiments)")
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
