"""``sketchtest check``: do the samples in a file look Gaussian?

The command reads an ``(N, D)`` or ``(N,)`` array safely (:mod:`sketchtest._cli.readers`),
runs :func:`sketchtest.normality_test` (by default) and any sliced and
multivariate tests asked for on the chosen backend, and reports each
component's verdict and the moment diagnostics (:mod:`sketchtest._cli.report`). Exit status: 0 when the
check ran, whatever the verdict; 2 for usage and input errors, with one line
on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from importlib import resources

import numpy as np

from sketchtest._cli.budget import plan_memory
from sketchtest._nulls.combine import cauchy_pvalue, cauchy_statistic
from sketchtest._compat import array_namespace
from sketchtest._multivariate.directions import draw_directions
from sketchtest._cli.passes import read_rows
from sketchtest._cli.readers import InputError, open_samples, parse_size
from sketchtest._cli.rows import _one_line
from sketchtest._cli.report import (
    draw_plots, moment_diagnostics, plot_path, progress_bar, pvalue_phrase, render_text,
)
from sketchtest._cli.demo import DEMO_SOURCE, demo_findings
from sketchtest._multivariate.diagnosis import COLUMN_WORDS, INDEX_NOTE, diagnose
from sketchtest._multivariate.diagnosis_figure import draw_figure
from sketchtest._multivariate.sliced import SlicedResult

__all__ = ["main", "build_parser", "run_check"]

SLICED_TESTS = ("epps_pulley", "cramer_von_mises", "anderson_darling", "watson",
                "kolmogorov_smirnov", "shapiro_wilk", "shapiro_francia", "jarque_bera")
MULTIVARIATE_TESTS = ("henze_zirkler", "mardia", "bhep")
COMPOSITE_ONLY = ("shapiro_wilk", "shapiro_francia")  # no N(0, 1) null: run with null="normal"
NORMALITY = "normality_test"
DEFAULT_TESTS = NORMALITY
BACKENDS = ("numpy", "torch", "jax", "cupy")
QQ_POINTS = 4000
#: Random directions by default: the default of ``normality_test`` and ``sliced_test``'s 128,
#: so that one file gets one p-value from the command line and from Python.
DEFAULT_SLICES = 128
#: Above this D / N, Mardia's test (its skewness's chi-square limit) rejects N(0, I) too often:
#: measured on 40 N(0, I) samples per shape (see docs/guide/cli.rst).
MARDIA_SIZE_RATIO = 1 / 32
#: Rows kept in memory when every test streams (without --plot): enough to say why a component
#: is not computed, and no more (a 10^7-row file would otherwise keep a quarter of the budget).
REPORT_ROWS = 4096


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``sketchtest``; its only command is ``check``."""
    parser = _Parser(prog="sketchtest", description="Do these samples look Gaussian?")
    from sketchtest._version import __version__

    parser.add_argument("--version", action="version", version=f"sketchtest {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = commands.add_parser(
        "check", help="test the samples in a file for N(0, I)",
        description="Test whether the rows of an (N, D) array (or an (N,) vector) look like "
                    "samples of N(0, I). Reads .npy, .npz, .pt/.pth, .safetensors, .csv/.txt "
                    "without executing anything in them. Exit status 0 when the check ran, "
                    "whatever the verdict; 2 for usage or input errors.")
    check.add_argument("path", nargs="?", help="the file of samples (omit with --demo)")
    check.add_argument("--demo", action="store_true",
                       help="check the small set of embeddings shipped with sketchtest")
    check.add_argument("--key", metavar="NAME",
                       help="which array of an .npz, .pt/.pth or .safetensors file")
    check.add_argument("--tests", default=DEFAULT_TESTS, metavar="LIST",
                       help=f"comma-separated tests: {NORMALITY} (one p-value from several "
                            "components, each reported; shown first); "
                            f"sliced: {', '.join(SLICED_TESTS)}; "
                            f"multivariate: {', '.join(MULTIVARIATE_TESTS)} "
                            f"(default {DEFAULT_TESTS})")
    check.add_argument("--slices", type=int, default=DEFAULT_SLICES, metavar="K",
                       help=f"random directions (default {DEFAULT_SLICES}, as normality_test)")
    check.add_argument("--seed", type=int, default=0, metavar="S",
                       help="seed of the directions (default 0)")
    check.add_argument("--null", choices=("standard", "normal"), default="standard",
                       help="H0: N(0, I) (standard, default) or any Gaussian (normal); for a "
                            "sliced test, of each slice")
    check.add_argument("--alpha", type=float, default=0.05, help="level of the verdicts (0.05)")
    check.add_argument("--backend", choices=BACKENDS, default="numpy",
                       help="array library that runs the tests (default numpy)")
    check.add_argument("--device", metavar="DEVICE",
                       help="device of that library, e.g. cpu, cuda, cuda:1, gpu")
    check.add_argument("--json", action="store_true", help="print one JSON object instead")
    check.add_argument("--plot", metavar="PATH",
                       help="save a figure to PATH: Q-Q plots of the principal axis and the "
                            "coordinate the verdict flags and the covariance spectrum with the rank "
                            "marked (only sliced tests: their worst slices and slice p-values); "
                            "a directory: PATH/sketchtest-check.png; no extension: .png is added; "
                            "needs matplotlib)")
    check.add_argument("--worst", type=int, default=5, metavar="N",
                       help="worst slices to list (default 5)")
    check.add_argument("--memory-budget", default="1G", metavar="SIZE",
                       help="memory the check may use besides the libraries (default 1G): every "
                            "file is read in chunks; when the rows do not fit, normality_test "
                            "streams every row in two passes over the file and Epps-Pulley in "
                            "one, and the other tests use a random subsample that fits (the "
                            "report says so)")
    check.add_argument("--subsample", type=int, metavar="M",
                       help="run every test on the same M random rows (seeded by --seed) "
                            "instead of streaming every row: one pass, faster on big files; "
                            "the mean and covariance report still uses every row")
    check.add_argument("--no-progress", action="store_true",
                       help="no progress bar (it shows on a terminal after about 2 seconds, and "
                            "counts the rows of both passes when normality_test streams)")
    return parser


def main(argv=None) -> int:
    """Run the command line with `argv` (default ``sys.argv[1:]``); return the exit status.

    0 when the check ran, 2 for usage and input errors and when the reader
    of the output went away before the report was written, e.g.
    ``sketchtest check FILE | head -1`` (one line on stderr, no traceback).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = _validate_options(args)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow in extreme data: reported as NaN
            report = run_check(args, **options)
    except InputError as error:
        one_line = str(error).replace("\r", "\\r").replace("\n", "\\n")  # e.g. a newline in a file name
        print(f"sketchtest check: error: {one_line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sketchtest check: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("sketchtest check: error: out of memory; lower --memory-budget or --slices",
              file=sys.stderr)
        return 2
    text = json.dumps(_json_safe(report), indent=2, allow_nan=False) if args.json \
        else render_text(report)
    return _write_output(text)


def _write_output(text: str) -> int:
    """Print `text` on stdout; a closed pipe ends the command with one line on stderr and status 2."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        try:  # later flushes (at exit) must not fail again: point stdout at /dev/null
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        print("sketchtest check: error: the output was closed before the report was written "
              "(broken pipe)", file=sys.stderr)
        return 2
    return 0


def _validate_options(args) -> dict:
    if args.demo == (args.path is not None):
        raise InputError("give either a PATH or --demo (exactly one)")
    tests = [name.strip() for name in args.tests.split(",") if name.strip()]
    known = (NORMALITY,) + SLICED_TESTS + MULTIVARIATE_TESTS
    unknown = [name for name in tests if name not in known]
    if unknown or not tests:
        raise InputError(f"--tests: unknown test {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(known)}")
    if args.slices < 1:
        raise InputError(f"--slices must be at least 1; got {args.slices}")
    if not 0 <= args.seed < 2**63:
        raise InputError(f"--seed must be between 0 and 2**63 - 1; got {args.seed}")
    if not 0 < args.alpha < 1:
        raise InputError(f"--alpha must be between 0 and 1; got {args.alpha}")
    if args.worst < 0:
        raise InputError(f"--worst must be non-negative; got {args.worst}")
    if args.subsample is not None and args.subsample < 2:
        raise InputError(f"--subsample must be at least 2 rows; got {args.subsample}")
    if args.plot is not None:
        _require_matplotlib()
    return {"tests": tests, "memory_budget": parse_size(args.memory_budget)}


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install matplotlib, or from a clone of "
                         'sketchtest: pip install -c .ci/constraints.txt -e ".[plot]"') from None


def run_check(args, *, tests, memory_budget) -> dict:
    """Read the samples in chunks, run `tests`, and return the report as a JSON-ready dictionary.

    Memory stays within `memory_budget` (see :mod:`sketchtest._cli.budget`): the
    rows are read in chunks (:mod:`sketchtest._cli.passes`) into the moments,
    the kept rows (all of them when they fit, else a random subsample) and,
    when they do not fit, the streamed Epps-Pulley sums and the two passes of
    the streamed ``normality_test``; the other tests run on the kept rows.
    With ``--subsample M`` every test runs on the same M random rows.
    """
    started = time.perf_counter()
    path = str(resources.files("sketchtest") / "data" / "demo_embeddings.npy") if args.demo \
        else args.path
    source = open_samples(path, key=args.key, memory_budget=memory_budget)
    stream_epps = "epps_pulley" in tests and args.null == "standard"
    plan = plan_memory(source, num_slices=args.slices, budget=memory_budget,
                       stream_epps_pulley=stream_epps, normal_null=args.null == "normal",
                       normality=NORMALITY in tests, subsample=args.subsample)
    if _every_test_streams(tests, plan) and not args.plot:  # the kept rows only explain NaNs
        plan = dataclasses.replace(plan, kept_rows=min(plan.kept_rows, REPORT_ROWS))
    to_backend, device_name = _backend_converter(args.backend, args.device, source.compute_dtype)
    directions = draw_directions(source.dimensions, args.slices, seed=args.seed)
    read = read_rows(source, plan, directions, args, to_backend)
    report = {
        "source": DEMO_SOURCE if args.demo else source.path,
        "format": source.format, "key": source.key, "samples": source.samples,
        "dimensions": source.dimensions, "dtype": str(source.dtype),
        "backend": args.backend, "device": device_name, "null": args.null,
        "alpha": args.alpha, "num_slices": args.slices, "seed": args.seed,
        "streamed": plan.kept_rows < source.samples and args.subsample is None,
        "chunk_rows": plan.chunk_rows,
        "memory_budget": memory_budget, "rows_in_memory": plan.kept_rows,
        "subsample": args.subsample, "passes": read.passes,
    }
    if source.note:
        report["reading_note"] = source.note
    report["diagnostics"] = moment_diagnostics(read.moments.mean(), read.moments.covariance(),
                                               source.samples, dtype=str(source.dtype))
    rows = _Rows(kept=read.kept, on_backend=to_backend(read.kept), samples=source.samples,
                 to_backend=to_backend)
    results = []
    with progress_bar(len(tests), enabled=not args.no_progress, description="testing",
                      unit="tests") as progress:
        for name in tests:
            results.append(_run_named_test(name, rows, read, directions, plan, args))
            progress.update(1)
    for entry, result in results:
        if entry["test"] == NORMALITY and result is not None:
            _tell(entry, result, report["diagnostics"], args)
        if entry["test"] == "mardia" and "error" not in entry:
            _mardia_caveat(entry, source.samples if "subsample" not in entry else entry["subsample"],
                           source.dimensions)
    report["tests"] = [entry for entry, _ in results]
    verdicts = [entry["verdict"] for entry, _ in results
                if entry["test"] == NORMALITY and "verdict" in entry]
    if verdicts:  # the report's verdict is normality_test's
        report["verdict"] = verdicts[0]
    if args.demo:
        report["demo"] = demo_findings(report)
    if args.plot:
        report["plot"] = _plot(args, report, results, read.kept)
    report["timing"] = _timing(source.samples, read, time.perf_counter() - started)
    return report


def _every_test_streams(tests, plan) -> bool:
    """Whether every test in `tests` streams every row (none runs on the kept rows)."""
    return plan.stream_normality and all(
        name == NORMALITY or (name == "epps_pulley" and plan.stream_block > 0) for name in tests)


def _timing(samples, read, seconds) -> dict:
    """Seconds of the whole check and of reading, and the file's rows per second through each."""
    return {"seconds": seconds, "reading_seconds": read.seconds,
            "rows_per_second": samples / seconds if seconds > 0 else None,
            "reading_rows_per_second": samples / read.seconds if read.seconds > 0 else None}


def _tell(entry, result, diagnostics, args) -> None:
    """The verdict of ``normality_test`` in words, its departures, and why a component is NaN."""
    diagnosis = diagnose(result, alpha=args.alpha, summary=diagnostics)
    entry["verdict"] = diagnosis.verdict
    entry["headline"] = diagnosis.headline
    entry["departures"] = [departure.as_dict() for departure in diagnosis.departures]
    entry["also_rejecting"] = list(diagnosis.also_rejecting)
    entry["indices"] = INDEX_NOTE
    for part in entry["components"]:
        if part["component"] in diagnosis.reasons and "not_computed" not in part:
            part["not_computed"] = "not computed: " + diagnosis.reasons[part["component"]]
        part["reports"] = next((d.kind for d in diagnosis.departures if d.component == part["component"]),
                               "also_rejecting" if part["component"] in diagnosis.also_rejecting else None)
        if part["reports"] is None:
            del part["reports"]


def _mardia_caveat(entry, samples, dimensions) -> None:
    """Mardia's known size problem when D is large relative to N: a caveat in the report."""
    if dimensions / samples > MARDIA_SIZE_RATIO:
        entry["caveat"] = (f"D = {dimensions} is large for N = {samples}: Mardia's test rejects N(0, I) "
                           "samples more often than alpha there (measured at alpha = 0.05: 13 of 40 "
                           "at N = 512, D = 64; 6 of 40 at D = 32; 3 of 40 at D = 16); prefer "
                           "normality_test")


@dataclass(frozen=True)
class _Rows:
    """The rows kept in memory (on the host and on the backend), out of `samples`."""

    kept: np.ndarray
    on_backend: object
    samples: int
    to_backend: object


def _run_named_test(name, rows: _Rows, read, directions, plan, args):
    """The report entry and result of test `name`: streamed, on the kept rows, or on a
    subsample of them (multivariate tests)."""
    if name == NORMALITY:
        if plan.stream_normality:
            return _run_normality(None, rows.kept, args, samples=rows.samples, read=read)
        chosen = _multivariate_rows(rows.kept, plan.normality_rows, args.seed)
        return _run_normality(rows.to_backend(chosen), chosen, args, samples=rows.samples)
    streamed = read.streamed
    if name == "epps_pulley" and streamed:
        result = _combined([accumulator.result() for accumulator in streamed], directions)
        entry = {"test": name, "kind": "sliced", "streamed": True}
        return _describe_result(entry, result, args), result
    if name in SLICED_TESTS:
        subsample = rows.kept.shape[0] if rows.kept.shape[0] < rows.samples else None
        return _run_test(name, rows.on_backend, args, subsample=subsample, directions=directions,
                         block=plan.test_block)
    chosen = _multivariate_rows(rows.kept, plan.multivariate_rows, args.seed)
    return _run_test(name, rows.to_backend(chosen), args,
                     subsample=chosen.shape[0] if chosen.shape[0] < rows.samples else None)


def _run_normality(data, host, args, *, samples, read=None):
    """Run ``normality_test`` on `data` (`host` on the host), or take the result of its two
    streamed passes over every row from `read`; its report entry and result."""
    from sketchtest._multivariate.normality import normality_test

    entry = {"test": NORMALITY, "kind": "combined", "null": args.null}
    streamed = read is not None
    entry.update(rows=samples if streamed else int(host.shape[0]), passes=2 if streamed else 1,
                 streamed=streamed)
    if not streamed and host.shape[0] < samples:
        entry["subsample"] = int(host.shape[0])
    try:
        if samples < 4:
            raise ValueError(f"it needs at least 4 samples (rows); the file has N = {samples}")
        if streamed:
            result = _streamed_result(read)
        elif host.shape[0] < 4:
            raise ValueError(_too_few_rows(host, args))
        else:
            result = normality_test(data, null=args.null, seed=args.seed, num_slices=args.slices)
    except (ValueError, TypeError, NotImplementedError, ArithmeticError, RuntimeError) as error:
        entry["error"] = _one_line(error)
        return entry, None
    pvalue = _scalar(result.pvalue)
    entry.update(statistic=_scalar(result.statistic), pvalue=pvalue, method=result.method)
    entry["components"] = [_component_entry(name, part, host, args)
                           for name, part in result.components.items()]
    entry["reject"] = pvalue is not None and pvalue < args.alpha
    return entry, result


def _streamed_result(read):
    """The result of the streamed ``normality_test``, or the error that stopped it."""
    if read.normality_error is not None:
        raise ValueError(read.normality_error)
    return read.normality.result()


def _too_few_rows(host, args) -> str:
    """Why ``normality_test`` ran on fewer than 4 rows of a larger file, in words."""
    if args.subsample is not None:
        return f"it needs at least 4 samples (rows); --subsample gives {host.shape[0]}"
    needs = " (null='normal' simulates its null in about 160 MiB)" if args.null == "normal" else ""
    return (f"--memory-budget is too small for it at D = {host.shape[1]} with "
            f"--slices {args.slices}{needs}: raise it")


def _component_entry(name, part, host, args) -> dict:
    """One component of ``normality_test``: its numbers, and in words what was not computed."""
    dimensions = host.shape[1]
    entry = {"component": name, "statistic": _scalar(part.statistic), "pvalue": _scalar(part.pvalue),
             "method": part.method}
    expected = {"covariance": dimensions * (dimensions + 1) / 2, "mean": float(dimensions)}.get(name)
    if "null_mean" in part.extras:
        expected = float(_host(part.extras["null_mean"]))
    if expected is not None:
        entry["expected_under_h0"] = expected
    if "pvalues" in part.extras:
        entry["columns"] = int(part.extras["pvalues"].shape[-1])
        if entry["pvalue"] is not None and "most_significant" in part.extras:
            index = int(_host(part.extras["most_significant"]).reshape(-1)[0])
            entry["most_significant"] = index  # 0-based, as x[:, j]
            entry["most_significant_words"] = COLUMN_WORDS.get(name, "column {index}").format(index=index)
    entry["reject"] = entry["pvalue"] is not None and entry["pvalue"] < args.alpha
    if entry["pvalue"] is None:
        reason = part.extras.get("reason")
        entry["not_computed"] = f"not computed: {reason}" if reason else _why_undefined(host)
    return entry


def _why_undefined(host) -> str:
    """Why a component of ``normality_test`` is NaN on the rows `host`, in words."""
    x = np.asarray(host, dtype=np.float64)
    constant = np.flatnonzero(np.ptp(x, axis=0) == 0)
    if constant.size:
        more = f" (and {constant.size - 1} more)" if constant.size > 1 else ""
        return f"not computed: coordinate {constant[0]} is constant{more}"
    if not np.all(np.isfinite(x * x)):
        return "not computed: values too large to square in float64"
    eigenvalues = np.linalg.eigvalsh(np.atleast_2d(np.cov(x, rowvar=False)))
    if not eigenvalues[0] > 1e-12 * x.shape[1] * eigenvalues[-1]:
        return "not computed: the covariance is singular (collinear coordinates)"
    return "not computed: the statistic is undefined for these data"


def _multivariate_rows(kept, rows, seed):
    """`rows` of the kept rows at random (the multivariate tests' memory grows as rows^2)."""
    if rows >= kept.shape[0]:
        return kept
    return kept[np.sort(np.random.default_rng(seed).choice(kept.shape[0], rows, replace=False))]


def _run_test(name, data, args, *, subsample=None, directions=None, block=None):
    """Run one test; return its report entry and the raw result (None if it failed)."""
    kind = "sliced" if name in SLICED_TESTS else "multivariate"
    entry = {"test": name, "kind": kind}
    if subsample is not None:
        entry["subsample"] = int(subsample)
    try:
        result = _call_test(name, kind, data, entry, args, directions=directions, block=block)
    except (ValueError, TypeError, NotImplementedError, ArithmeticError, RuntimeError) as error:
        entry["error"] = _one_line(error)
        return entry, None
    return _describe_result(entry, result, args), result


def _call_test(name, kind, data, entry, args, *, directions, block):
    """The result of test `name` on `data`; records the null a sliced test used in `entry`.

    A sliced test runs on blocks of `block` slices (its memory grows as rows x slices),
    whose slice p-values are combined as one call would combine them.
    """
    from sketchtest._multivariate import affine
    from sketchtest._multivariate.sliced import sliced_test

    if kind == "multivariate":
        return getattr(affine, name)(data)  # henze_zirkler, mardia or bhep
    entry["null"] = "normal" if name in COMPOSITE_ONLY else args.null
    parts = [sliced_test(data, test=name, directions=directions[:, k:k + block], null=entry["null"])
             for k in range(0, directions.shape[1], block)]
    return _combined(parts, directions)


def _combined(parts, directions):
    """One sliced result from the results of consecutive blocks of `directions`."""
    if len(parts) == 1:
        return parts[0]
    statistics = np.concatenate([_host(part.slice_statistics).reshape(-1) for part in parts])
    pvalues = np.concatenate([_host(part.slice_pvalues).reshape(-1) for part in parts])
    xp = array_namespace(pvalues)
    # in the p-values' own dtype, as one call would: a float32 p of 1 means 1 - p < 3e-8, not
    # the 1e-16 a float64 cast claims (a -3e15 term that hides every other slice)
    statistic = cauchy_statistic(pvalues, xp=xp)
    return SlicedResult(statistic, cauchy_pvalue(statistic, xp=xp), statistics, pvalues, directions,
                        test=parts[0].test, aggregate="cauchy", null=parts[0].null,
                        method="cauchy_combination")


def _describe_result(entry, result, args) -> dict:
    statistic, pvalue = _scalar(result.statistic), _scalar(result.pvalue)
    entry.update(statistic=statistic, pvalue=pvalue)
    for attribute in ("aggregate", "method"):
        value = getattr(result, attribute, None)
        if isinstance(value, str) and value:
            entry[attribute] = value
    rejected = pvalue is not None and pvalue < args.alpha
    entry["reject"] = rejected
    entry["verdict"] = ("reject: not Gaussian" if rejected else "consistent with H0") \
        if pvalue is not None else "undefined (NaN p-value)"
    parts = [{"part": part, "statistic": _scalar(getattr(result, f"{part}_statistic")),
              "pvalue": _scalar(getattr(result, f"{part}_pvalue"))}
             for part in ("skewness", "kurtosis")
             if getattr(result, f"{part}_pvalue", None) is not None]
    if parts:  # Mardia's two parts
        entry["parts"] = parts
    if entry["kind"] == "sliced" and getattr(result, "slice_pvalues", None) is not None:
        entry["worst_slices"] = _worst_slices(result, args.worst)
    return entry


def _worst_slices(result, count: int) -> list[dict]:
    pvalues = _host(result.slice_pvalues).reshape(-1)
    statistics = _host(result.slice_statistics).reshape(-1)
    order = np.lexsort((-statistics, pvalues))[:count]
    return [{"slice": int(k), "statistic": _scalar(statistics[k]), "pvalue": _scalar(pvalues[k])}
            for k in order]


def _plot(args, report, results, host) -> str:
    """Draw the figure; return the path really written.

    After ``normality_test``, the figure of ``result.plot()`` (one implementation); after sliced
    tests only, the Q-Q plots of their worst slices and the slice p-values.
    """
    normality = [(entry, result) for entry, result in results if entry["test"] == NORMALITY and result is not None]
    if normality:
        entry, result = normality[0]
        path = plot_path(args.plot)
        try:
            figure = draw_figure(host, result, summary=report["diagnostics"], alpha=args.alpha,
                                 title=f"sketchtest check: {report['source']}", seed=args.seed)
            figure.savefig(path, dpi=110)
        except (OSError, ValueError) as error:
            raise InputError(f"--plot: cannot write {path}: {_one_line(error)}") from None
        return path
    qq_samples, slice_pvalues = [], None
    with_slices = [(entry, result) for entry, result in results
                   if result is not None and entry["kind"] in ("sliced", "combined")]
    if with_slices:
        entry, result = with_slices[0]
        slice_pvalues, directions, worst, name = _slices_to_plot(entry, result)
        rows = host
        if host.shape[0] > QQ_POINTS:
            picked = np.random.default_rng(args.seed).choice(host.shape[0], QQ_POINTS, replace=False)
            rows = host[np.sort(picked)]
        if directions is not None:
            directions = directions.reshape(host.shape[1], -1)
            for k, pvalue in worst[:4]:
                values = np.asarray(rows, dtype=np.float64) @ directions[:, k]
                qq_samples.append((f"{name} slice {k}: {pvalue_phrase(pvalue)}", values))
    try:
        return draw_plots(args.plot, qq_samples=qq_samples, slice_pvalues=slice_pvalues,
                          diagnostics=report["diagnostics"],
                          title=f"sketchtest check: {report['source']}")
    except (OSError, ValueError) as error:
        raise InputError(f"--plot: cannot write {plot_path(args.plot)}: {_one_line(error)}") from None


def _slices_to_plot(entry, result):
    """Slice p-values, directions (host), worst ``(slice, p-value)`` pairs and the name to
    plot, of a sliced test or of ``normality_test``'s random slices."""
    if entry["kind"] == "sliced":
        directions = getattr(result, "directions", None)
        worst = [(item["slice"], item["pvalue"]) for item in entry.get("worst_slices", [])]
        return (_host(result.slice_pvalues).reshape(-1),
                None if directions is None else _host(directions), worst, entry["test"])
    pvalues = _host(result.components["random_slices"].extras["pvalues"]).reshape(-1)
    worst = [(int(k), _scalar(pvalues[k])) for k in np.argsort(pvalues)[:4]]  # NaN sort last
    directions = result.extras.get("directions")
    return pvalues, None if directions is None else _host(directions), worst, "random"


def _backend_converter(backend, device, dtype):
    """A function that moves a host array to `backend` on `device` (checked up front),
    and the device's name."""
    if backend == "numpy":
        if device not in (None, "cpu"):
            raise InputError(f"--device {device}: NumPy runs on the cpu only")
        return (lambda host: host), "cpu"
    module = _import_backend(backend)
    try:
        if backend == "torch":
            target = module.device(device or "cpu")
            module.empty(1, device=target)
            return (lambda host: module.as_tensor(host, device=target)), str(target)
        if backend == "jax":
            if dtype == np.float64:
                module.config.update("jax_enable_x64", True)
            target = _jax_device(module, device)
            return (lambda host: module.device_put(module.numpy.asarray(host), target)), str(target)
        index = int(str(device).rsplit(":", 1)[-1]) if device and ":" in str(device) else 0
        if device not in (None, "cuda", "gpu") and not str(device).startswith(("cuda:", "gpu:")):
            raise InputError(f"--device {device}: CuPy runs on cuda devices (cuda, cuda:1)")
        with module.cuda.Device(index):
            module.empty(1)
        return (lambda host: _cupy_array(module, host, index)), f"cuda:{index}"
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001 - an absent or invalid device
        raise InputError(f"--backend {backend} --device {device or 'default'}: "
                         f"{str(error).strip().splitlines()[0]}") from None


def _import_backend(backend):
    package = {"torch": "torch", "jax": "jax", "cupy": "cupy"}[backend]
    try:
        module = __import__(package)
        if backend == "jax":
            import jax.numpy  # noqa: F401
    except ImportError:
        raise InputError(f"--backend {backend} needs {package}: from a clone of sketchtest, "
                         f'pip install -c .ci/constraints.txt -e ".[{package}]"') from None
    except Exception as error:  # noqa: BLE001 - e.g. CuPy without a CUDA driver
        raise InputError(f"--backend {backend}: {str(error).strip().splitlines()[0]}") from None
    return module


def _jax_device(jax, device):
    if device is None:
        return jax.devices()[0]
    platform, _, index = str(device).partition(":")
    platform = {"cuda": "gpu"}.get(platform, platform)
    return jax.devices(platform)[int(index or 0)]


def _cupy_array(cupy, host, index):
    with cupy.cuda.Device(index):
        return cupy.asarray(host)


def _host(array):
    """A NumPy copy of a result array from any backend."""
    if hasattr(array, "detach"):
        return array.detach().cpu().numpy()
    if hasattr(array, "get") and type(array).__module__.startswith("cupy"):
        return array.get()
    return np.asarray(array)


def _scalar(value):
    number = float(_host(value).reshape(-1)[0]) if np.ndim(_host(value)) else float(_host(value))
    return number if math.isfinite(number) else None


def _json_safe(value):
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
