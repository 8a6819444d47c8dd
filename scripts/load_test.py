"""Sends named scenarios of traffic to the churn API so that every dashboard panel and alert moves.

Lookups use customer ids from the predictions file, never a guessed range. The errors and slow
scenarios switch the API's demo fault switch on for their duration (CHURN_DEMO_FAULTS=true and an
admin token; the Compose stack has both) and always off again, even on Ctrl-C.
"""

import argparse
import sys
import textwrap
from pathlib import Path

from churn.cli import EXIT_FAILED, positive_count, positive_number, run_job, share
from churn.errors import ChurnError
from churn.loadtest import Options, is_loopback, load_test
from churn.loadtest.scenarios import ALL, SCENARIOS
from churn.settings import Settings

EXIT_INTERRUPTED = 130


def scenarios_help() -> str:
    def wrapped(text: str, indent: str) -> str:
        return textwrap.fill(text, 98, initial_indent=indent, subsequent_indent="      ")

    blocks = [wrapped(f"{scenario.name}: {scenario.summary}.", "  ") + "\n"
              + wrapped(f"watch: {scenario.watch}", "      ") for scenario in SCENARIOS.values()]
    return "scenarios:\n" + "\n".join(blocks) + f"\n  all: {', '.join(ALL)}, one after the other."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, epilog=scenarios_help(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="the API (default: the api_url setting, http://localhost:8000)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a URL that is not on this machine (refused otherwise)")
    parser.add_argument("--scenario", action="append", choices=[*SCENARIOS, "all"], dest="scenarios",
                        help="a scenario to run (repeatable; default light)")
    parser.add_argument("--requests", type=positive_count, help="stop each scenario after this many")
    parser.add_argument("--duration", type=positive_number, help="or after this many seconds")
    parser.add_argument("--workers", type=positive_count, help="concurrent clients")
    parser.add_argument("--rps", type=positive_number, help="a steady rate, requests per second")
    parser.add_argument("--unknown-share", type=share, default=0.10,
                        help="mixed traffic: share of unknown ids, answered 404 (default %(default)s)")
    parser.add_argument("--invalid-share", type=share, default=0.05,
                        help="mixed traffic: share of malformed ids, answered 422 (default %(default)s)")
    parser.add_argument("--predict-share", type=share, default=0.15,
                        help="mixed traffic: share of POST /predict (default %(default)s)")
    parser.add_argument("--timeout", type=positive_number, default=10.0,
                        help="seconds each request may take (default %(default)s)")
    parser.add_argument("--token", help="the API's admin token, for the fault switch "
                                        "(default: the admin_token setting, CHURN_ADMIN_TOKEN)")
    parser.add_argument("--predictions", type=Path,
                        help="where the known ids come from (default: the predictions_path setting)")
    parser.add_argument("--seed", type=int, default=7, help="of the traffic drawn (default %(default)s)")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write the summaries here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args()
    if args.duration and args.requests:
        parser.error("give --requests or --duration, not both")
    if args.url and not (args.allow_remote or is_loopback(args.url)):
        parser.error(f"{args.url} is not on this machine; pass --allow-remote if you mean it")
    interrupted = False

    def job(settings: Settings) -> None:
        nonlocal interrupted
        if not (args.url or args.allow_remote or is_loopback(settings.api_url)):
            raise ChurnError(f"api_url {settings.api_url} is not on this machine; "
                             "pass --allow-remote if you mean it")
        summaries = load_test(Options(
            url=args.url or settings.api_url, scenarios=args.scenarios or ["light"],
            predictions=args.predictions or settings.predictions_path, id_column=settings.id_column,
            token=args.token or settings.admin_token.get_secret_value(), timeout=args.timeout,
            requests=args.requests, seconds=args.duration, workers=args.workers, rps=args.rps,
            unknown_share=args.unknown_share, invalid_share=args.invalid_share,
            predict_share=args.predict_share, seed=args.seed, json_path=args.json_path,
            progress=not args.no_progress))
        interrupted = any(summary.interrupted for summary in summaries)

    code = run_job("loadtest", job)
    return EXIT_INTERRUPTED if interrupted and code != EXIT_FAILED else code


if __name__ == "__main__":
    sys.exit(main())
