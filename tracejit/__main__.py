"""Command line: `tracejit cache info` / `tracejit cache clear` (also `python -m tracejit ...`)."""
import argparse
import json


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tracejit", description="tracejit utilities")
    sub = parser.add_subparsers(dest="command", required=True)
    cache_parser = sub.add_parser("cache", help="the on-disk cache of compiled kernels")
    cache_parser.add_argument("action", choices=["info", "clear"])
    args = parser.parse_args(argv)
    from .backend.native import cache
    if args.action == "info":
        print(json.dumps(cache.info(), indent=2))
    else:
        before = cache.info()
        cache.clear()
        print(f"removed {before['native_entries']} native code entries, {before['bytes']} bytes from {before['directory']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
