"""Dead letters of the local stack from the command line (``orchestration.dead_letters`` against ``make up``)::

    python -m local_stack.dead_letters list [--all]
    python -m local_stack.dead_letters replay ID [ID ...]   # clears the task so it reruns from its checkpoint
"""

from __future__ import annotations

import argparse
import sys

from orchestration.dead_letters import list_dead_letters, replay


def main(argv: list[str] | None = None) -> int:
    """Command line: ``list`` or ``replay ID...`` (replay needs the stack's api-server)."""
    parser = argparse.ArgumentParser(prog="dead_letters", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    lister = sub.add_parser("list", help="show dead-lettered task instances")
    lister.add_argument("--all", action="store_true", help="include replayed records")
    replayer = sub.add_parser("replay", help="clear dead-lettered task instances so they rerun")
    replayer.add_argument("ids", nargs="+", type=int)
    replayer.add_argument("--api-url", help="api-server URL (default: the local stack of `make up`)")
    args = parser.parse_args(argv)
    if args.command == "list":
        for rec in list_dead_letters(args.all):
            where = f"{rec['dag_id']}.{rec['task_id']}[{rec['map_index']}] run={rec['run_id']}"
            print(f"{rec['id']:>5}  {rec['created_at']}  {where}  ticker={rec['ticker']}  "
                  f"{rec['error_type']}: {(rec['error'] or '')[:120]}  replayed={rec['replayed_at'] or '-'}")
        return 0
    from local_stack.local import local_api

    api = local_api(args.api_url)
    for record_id in args.ids:
        rec = replay(record_id, api)
        print(f"replayed {record_id}: {rec['dag_id']}.{rec['task_id']}[{rec['map_index']}] run={rec['run_id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
