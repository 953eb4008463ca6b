"""The ``dsct`` command: ``serve``, ``solve``, ``validate``, ``gantt``, ``export-openapi``, ``experiments``."""

from __future__ import annotations

import argparse
import errno
import gc
import json
import logging
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from app import __version__
from app import logging as dsct_logging


def _settings():
    from app.settings import SettingsError, from_env

    try:
        return from_env()
    except SettingsError as exc:
        print(f"dsct: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _prepare_multiproc_dir() -> None:
    """The workers and their solver processes share their metrics through files: a fresh
    directory, or the given one emptied of stale values, set before any process imports
    prometheus_client."""
    var = "PROMETHEUS_MULTIPROC_DIR"
    path = os.environ.get(var)
    if not path:
        os.environ[var] = tempfile.mkdtemp(prefix="dsct-metrics-")
        return
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))


def graceful_shutdown_seconds(solve_timeout: float) -> int:
    """How long uvicorn lets the requests in flight finish after SIGTERM: the longest a request
    may take (DSCT_SOLVE_TIMEOUT) plus 5 s to send its answer. A container platform's grace
    period (Kubernetes' terminationGracePeriodSeconds) must be longer."""
    return int(solve_timeout) + 5


class AddressInUse(Exception):
    pass


#: how long past its graceful shutdown time the supervisor waits for a worker before killing it
_STOP_MARGIN = 10.0


class _StartLock:
    """One ``dsct serve`` at a time per port, while it starts and serves (Linux): two servers
    started at the same moment could both find the port free before either listens, and
    their workers would then share it (SO_REUSEPORT). The lock is an abstract Unix socket
    named after the port (addresses that overlap on one port, such as ``0.0.0.0`` and
    ``127.0.0.1``, share it as they share the port); only one process can bind that name,
    and it goes away with the process. Released as soon as the server starts to stop, so a
    new one can start while the old one finishes its requests."""

    def __init__(self, port: int):
        self.sock: socket.socket | None = None
        if not sys.platform.startswith("linux"):
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(f"\0dsct-serve-port-{port}")
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise AddressInUse(f"cannot listen on port {port}: another dsct serve is starting or "
                                   "serving there") from None
            raise
        sock.set_inheritable(False)
        self.sock = sock

    def release(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _claim(host: str, port: int) -> tuple[int, _StartLock]:
    """Check that nobody listens on ``host:port`` (any process, with or without
    SO_REUSEPORT): bind it once without SO_REUSEPORT, which the kernel refuses while any
    other socket holds the address. Returns the port (the one the OS picked for 0) and the
    port's :class:`_StartLock`, which the caller releases when it stops. Two servers that
    both pass the check before either listens cannot both take the lock."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are fine
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise AddressInUse(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        port = probe.getsockname()[1]
    return port, _StartLock(port)


def _exit_now(code: int) -> None:
    """Exit at once, once the server has stopped and answered what it had: a solve abandoned
    by its request (past the solve timeout) may still run in a solver thread, and Python's
    normal exit would wait for it. multiprocessing's exit handler runs first (it releases the
    solver process's semaphores), and the log lines are flushed."""
    import multiprocessing.util

    multiprocessing.util._exit_function()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve(args: argparse.Namespace) -> int:
    settings = _settings()
    dsct_logging.setup(settings.log_level)  # the supervisor's own lines, at the chosen level
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    workers = args.workers or settings.workers
    try:
        port, lock = _claim(host, port)
    except AddressInUse as exc:
        print(f"dsct: {exc}; is another server running there? Stop it or choose another DSCT_PORT.",
              file=sys.stderr, flush=True)
        return 1
    created = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    _prepare_multiproc_dir()
    options = dict(
        loop="uvloop",
        log_level=settings.log_level.lower(),
        access_log=False,  # dsct.access logs one JSON line per request instead
        log_config=dsct_logging.uvicorn_log_config(settings.log_level),  # its lines as JSON too
        timeout_graceful_shutdown=graceful_shutdown_seconds(settings.solve_timeout),
    )
    try:
        if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
            return _supervise(host, port, workers, options, lock)
        # a SIGTERM before uvicorn takes over the signals (while starting) is a clean exit too
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        _serve_socket(_listen(host, port, reuseport=False), options, on_stop=lock.release)
    finally:
        lock.release()
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if created and path and os.path.basename(path).startswith("dsct-metrics-"):
            shutil.rmtree(path, ignore_errors=True)
    _exit_now(0)
    return 0


def _listen(host: str, port: int, reuseport: bool = True) -> socket.socket:
    """A listening socket; with ``reuseport``, in the port's SO_REUSEPORT group: the kernel
    spreads incoming connections over the group's sockets, one per worker."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _frozen_app():
    """The ASGI app, with everything alive after start-up (modules, the app) moved out of the
    garbage collector's reach (``gc.freeze``): the full collections that a batch of many
    thousand objects triggers then scan only what requests allocate (docs/robustness.md
    has the gain for 10,000-task batches; small batches are unchanged). Server processes
    only, not tests or library use."""
    from app.main import app

    gc.collect()
    gc.freeze()
    return app


def _serve_socket(sock: socket.socket, options: dict, on_stop: Callable[[], None] | None = None) -> None:
    """uvicorn (httptools, uvloop) on ``sock``, with the connection guards and the graceful
    shutdown of :mod:`app.api.protocol`; ``on_stop`` is called when the shutdown begins."""
    import uvicorn

    from app.api.protocol import GuardedServer, protocol_class

    app = _frozen_app()
    settings = app.state.settings
    trusted = settings.forwarded_allow_ips.strip()
    config = uvicorn.Config(app, http=protocol_class(settings), timeout_keep_alive=settings.idle_timeout,
                            proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None, **options)
    app.state.runner.warm()
    server = GuardedServer(config)
    server.on_stop = on_stop
    server.run(sockets=[sock])


def _worker(host: str, port: int, options: dict, supervisor: int) -> None:
    """One worker process: its own socket, its own uvicorn server; it dies with its supervisor."""
    from app.lifecycle import die_with_parent

    die_with_parent(supervisor)
    _serve_socket(_listen(host, port), options)
    _exit_now(0)


def _supervise(host: str, port: int, workers: int, options: dict, lock: _StartLock) -> int:
    """Run ``workers`` uvicorn processes, each with its own SO_REUSEPORT socket.

    uvicorn's own multi-worker mode shares one listening socket; the first worker to wake
    accepts every pending connection, so a client with a few keep-alive connections often
    lands all of them on one worker (seen: 7,849 requests to 0). With one socket per worker
    the kernel balances connections. SIGTERM and SIGINT are passed to every worker, which
    finishes its requests in flight; a worker that dies on its own is replaced (exit 1 if
    workers keep dying right after start). Exit 0 after a requested stop.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = []
    stopping = False
    stop_by = math.inf
    exit_code = 0

    def start() -> multiprocessing.process.BaseProcess:
        proc = ctx.Process(target=_worker, args=(host, port, options, os.getpid()), daemon=False)
        proc.start()
        return proc

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping, stop_by
        if not stopping:
            stop_by = time.monotonic() + options["timeout_graceful_shutdown"] + _STOP_MARGIN
        stopping = True
        lock.release()
        for proc in procs:
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs.extend(start() for _ in range(workers))
    started = [time.monotonic()] * workers
    quick_deaths = 0
    dsct_logging.supervisor(f"{workers} workers on http://{host}:{port} (SO_REUSEPORT)",
                            workers=workers, host=host, port=port)
    while True:
        for i, proc in enumerate(procs):
            proc.join(timeout=0.2)
            if proc.is_alive():
                continue
            _mark_dead(proc.pid)
            if not stopping:
                quick_deaths += time.monotonic() - started[i] < 5.0
                if quick_deaths > 2 * workers:  # a crash loop (port taken, broken install)
                    dsct_logging.supervisor("workers keep dying at start; giving up", logging.ERROR)
                    stop(signal.SIGTERM, None)
                    exit_code = 1
                    continue
                dsct_logging.supervisor(f"worker {proc.pid} exited ({proc.exitcode}); starting another",
                                        logging.WARNING, pid=proc.pid, exitcode=proc.exitcode)
                procs[i] = start()
                started[i] = time.monotonic()
        if stopping and not any(p.is_alive() for p in procs):
            break
        if time.monotonic() > stop_by:  # a worker that does not finish in its graceful time
            for proc in procs:
                if proc.is_alive() and proc.pid:
                    os.kill(proc.pid, signal.SIGKILL)
    return exit_code


def _mark_dead(pid: int | None) -> None:
    """Drop a dead worker's live gauges (in-flight solves) from the shared metrics."""
    if pid and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _with_algorithm(body: bytes, name: str | None) -> bytes:
    """The body with its ``algorithm`` replaced by ``name`` (``--algorithm``). A body that is
    not a JSON object is left as it is: the pipeline then says what is wrong with it."""
    if name is None:
        return body
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return body
    if not isinstance(doc, dict):
        return body
    doc["algorithm"] = name
    return json.dumps(doc, ensure_ascii=False).encode()


def _indent(data: bytes | dict) -> bytes:
    """JSON indented by two spaces (``--pretty``)."""
    import orjson

    return orjson.dumps(orjson.loads(data) if isinstance(data, bytes) else data, option=orjson.OPT_INDENT_2)


def _validate(body: bytes, settings, pretty: bool) -> int:
    """``dsct validate``: what POST /schedule/validate answers, on stdout; exit 0 when the
    batch is valid, 2 when not."""
    from app.api.service import dumps
    from app.api.validation import report

    out = report(body, settings)
    sys.stdout.write((_indent(out) if pretty else dumps(out)).decode() + "\n")
    return 0 if out["valid"] else 2


def solve_cmd(args: argparse.Namespace) -> int:
    """``dsct solve``: what POST /schedule answers, on stdout (exit 0), or its error JSON on
    stderr (exit 2). ``--validate`` (and ``dsct validate``): see :func:`_validate`."""
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
    body = _with_algorithm(body, args.algorithm)
    if args.validate:
        return _validate(body, settings, args.pretty)
    try:
        out = schedule_json(body, settings)
    except ApiError as err:
        sys.stderr.write(dumps(err.body()).decode() + "\n")
        return 2
    if args.pretty:
        out = _indent(out)
    sys.stdout.write(out.decode() + "\n")
    if args.gantt:
        return _write_gantt(args.gantt, out, body, "dsct solve")
    return 0


def _write_gantt(path: str, response: bytes, request: bytes | None, prog: str) -> int:
    """Draw a response (and its request, when given) as SVG into ``path`` (``-``: stdout)."""
    import json

    from app.gantt import GanttInputError, render

    try:
        svg = render(json.loads(response), None if request is None else json.loads(request))
    except (GanttInputError, ValueError, RecursionError) as exc:
        print(f"{prog}: cannot draw: {exc}", file=sys.stderr)
        return 2
    if path == "-":
        sys.stdout.write(svg)
        return 0
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(svg)
    except OSError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    return 0


def gantt_cmd(args: argparse.Namespace) -> int:
    try:
        response = sys.stdin.buffer.read() if args.response == "-" else open(args.response, "rb").read()
        request = None if args.request is None else open(args.request, "rb").read()
    except OSError as exc:
        print(f"dsct gantt: {exc}", file=sys.stderr)
        return 2
    return _write_gantt(args.output, response, request, "dsct gantt")


def export_openapi(args: argparse.Namespace) -> int:
    """Write :func:`app.main.openapi_document` to ``args.output`` (``-``: stdout)."""
    from app.main import openapi_document

    text = openapi_document()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    return 0


def import_model_analyzer(args: argparse.Namespace) -> int:
    """``dsct models import-model-analyzer``: models[] JSON from Model Analyzer's results."""
    from app.profiles import ProfileError, from_model_analyzer

    try:
        with open(args.results, encoding="utf-8") as f:
            text = f.read()
        with open(args.accuracy, encoding="utf-8") as f:
            accuracy = json.load(f)
        if not isinstance(accuracy, dict):
            raise ProfileError("the accuracy file must be a JSON object: model config path -> accuracy")
        models = from_model_analyzer(text, accuracy, args.latency, args.batch, args.concurrency, args.a_min)
    except (OSError, ValueError) as exc:
        print(f"dsct models import-model-analyzer: {exc}", file=sys.stderr)
        return 2
    out = json.dumps({"models": models}, indent=2) + "\n"
    if args.output == "-":
        sys.stdout.write(out)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(out)
    return 0


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


def _batch_options(solve: argparse.ArgumentParser, validate: argparse.ArgumentParser) -> None:
    """The options ``dsct solve`` and ``dsct validate`` share, and ``solve --validate``."""
    for p in (solve, validate):
        p.add_argument("--algorithm", metavar="NAME",
                       help="use this algorithm instead of the body's (dsct-approx when it names none)")
        p.add_argument("--pretty", action="store_true", help="indent the JSON printed on stdout")
    solve.add_argument("--validate", action="store_true",
                       help="only check the batch, as dsct validate does (exit 2 when invalid)")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["experiments"]:
        return experiments(argv[1:])
    parser = argparse.ArgumentParser(prog="dsct", description="DSCT scheduling service")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the HTTP service (uvicorn, httptools, uvloop)")
    p.add_argument("--host", help="default: DSCT_HOST or 127.0.0.1")
    p.add_argument("--port", type=int, help="default: DSCT_PORT or 8000")
    p.add_argument("--workers", type=int, help="default: DSCT_WORKERS or 2")
    p.set_defaults(func=serve)
    p = sub.add_parser("solve", help="solve a batch offline: prints what POST /schedule returns")
    p.add_argument("file", help="request JSON file, or - for stdin")
    p.add_argument("--gantt", metavar="SVG", help="also draw the schedule as a Gantt chart (SVG) into this file")
    p.set_defaults(func=solve_cmd)
    p = sub.add_parser("gantt", help="draw a response of POST /schedule as a Gantt chart (SVG)")
    p.add_argument("response", help="response JSON file, or - for stdin")
    p.add_argument("-r", "--request", help="its request JSON file: adds speeds, busy times (available_at) "
                   "and deadlines")
    p.add_argument("-o", "--output", default="-", help="SVG file to write; default - (stdout)")
    p.set_defaults(func=gantt_cmd)
    p = sub.add_parser("export-openapi", help="write the OpenAPI document")
    p.add_argument("-o", "--output", default="openapi/openapi.json", help="default: openapi/openapi.json; - for stdout")
    p.set_defaults(func=export_openapi)
    p = sub.add_parser("models", help="measured models: import profilers' results as models[] JSON")
    msub = p.add_subparsers(dest="models_command", required=True)
    p = msub.add_parser("import-model-analyzer",
                        help="models[] from Triton Model Analyzer's metrics-model-inference.csv")
    p.add_argument("results", help="metrics-model-inference.csv")
    p.add_argument("--accuracy", required=True, help="JSON object: model config path -> accuracy in [a_min, 1]")
    p.add_argument("--latency", default="p99", help="latency column: p99 (default), p95, p90, p50, avg or a column name")
    p.add_argument("--batch", type=int, default=1, help="rows at this batch size (default 1)")
    p.add_argument("--concurrency", type=int, default=1, help="rows at this concurrency (default 1)")
    p.add_argument("--a-min", type=float, default=0.0, help="every model's a_min (default 0)")
    p.add_argument("-o", "--output", default="-", help="file to write; default - (stdout)")
    p.set_defaults(func=import_model_analyzer)
    sub.add_parser("experiments", help="the paper's experiments (app.experiments)")
    p = sub.add_parser("validate", help="check a batch offline: prints what POST /schedule/validate "
                       "returns (exit 2 when invalid)")
    p.add_argument("file", help="request JSON file, or - for stdin")
    p.set_defaults(func=solve_cmd, validate=True)
    _batch_options(sub.choices["solve"], sub.choices["validate"])
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
