"""``nst weights``: list the pretrained weight sources; ``nst weights fetch NAME`` gets one, converts it into the
cache every command reads, and prints where that is."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("weights", help="list pretrained weights (VGG, the published part 2 and part 3 models): where, licence")
    p.add_argument("action", nargs="?", choices=["list", "fetch", "convert"], default="list")
    p.add_argument("name", nargs="?", help="source name for fetch/convert (vgg19, vgg16, magenta-arbitrary, magenta-multistyle, vgg19-mat, vgg19-keras)")
    p.add_argument("--url", help="fetch from this URL instead of the source's own")
    p.add_argument("--file", help="convert: read this local file of the source's format")
    p.set_defaults(func=run)


def run(args) -> int:
    from nst import weights
    from nst.errors import NstError

    if args.action == "list":
        print(f"NST_HOME = {weights.nst_home()}")
        for row in weights.describe():
            print(f"{row['name']:<17} {row['network']:<7} {row['status']:<8} {row['where']}")
            print(f"{'':<17} {row['description']}; licence: {row['licence']}")
        return 0
    if not args.name:
        raise NstError(f"nst weights {args.action} needs a source name: {', '.join(weights.SOURCES)}")
    if args.name == "magenta-arbitrary":   # two ONNX graphs, converted once into the cache
        from nst.arbitrary.published import fetch

        print(fetch())
    elif args.name == "magenta-multistyle":   # one ONNX graph (part 2's 26 published styles)
        from nst.fast.published import fetch as fetch_multistyle

        print(fetch_multistyle())
    elif args.action == "fetch":  # fetched means converted and ready: the cache file every command reads
        found = weights.fetch(args.name, url=args.url)
        weights.load_weights(args.name)  # converts once (a no-op when the cache is there)
        print(f"{args.name}: converted weights ready at {weights.cache_path(args.name)} (from {found})")
    else:
        weights.load_weights(args.name, path=args.file)  # reads, checks and caches
        print(weights.cache_path(args.name))
    return 0
