"""Broad checks of synth/ that are too slow for the test suite.

    python bench/synth_checks.py [--generated 300] [--corpus 60] [--schema PATH.xsd]

1. Generated scores: every one validates against the MusicXML 4.0 schema (when the
   schema and lxml are available; default ``../shared/musicxml-4.0/musicxml-local.xsd``).
2. Corpus pieces (a random sample, all five fonts, random layouts): engraved without
   error; notes unfolded; how many notes found their verovio id; pages have boxes.

Prints a summary and writes ``bench/out/synth_checks.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# this checkout first, not the editable install (a worktree measures its own code and model)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from synth import engrave, generate, sources

DEFAULT_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "musicxml-4.0" / "musicxml-local.xsd"


def check_schema(count: int, schema_path: Path) -> dict:
    try:
        from lxml import etree
    except ImportError:
        return {"skipped": "lxml not installed (pip install lxml)"}
    if not schema_path.exists():
        return {"skipped": f"no schema at {schema_path}"}
    schema = etree.XMLSchema(etree.parse(str(schema_path)))
    invalid = []
    for seed in range(count):
        score = generate.generate_score(seed)
        doc = etree.fromstring(score.musicxml.encode("utf-8"))
        if not schema.validate(doc):
            invalid.append({"seed": seed, "error": str(schema.error_log.last_error)})
    return {"scores": count, "invalid": len(invalid), "examples": invalid[:5]}


def check_corpus(count: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    pieces = sources.corpus_pieces()
    chosen = rng.choice(len(pieces), size=min(count, len(pieces)), replace=False)
    failures, notes_total, notes_matched, symbols, pages = [], 0, 0, 0, 0
    methods: dict[str, int] = {}
    start = time.perf_counter()
    for i, index in enumerate(chosen):
        piece = pieces[int(index)]
        options = engrave.sample_options(rng)
        try:
            engraver = engrave.Engraver(sources.read_musicxml(piece.path), options)
            page = engraver.render_page(int(rng.integers(engraver.page_count)) + 1)
            notes = engraver.notes
        except Exception as err:  # noqa: BLE001 - counted and reported
            failures.append({"piece": piece.key, "font": options.font,
                             "error": f"{type(err).__name__}: {err}"})
            continue
        pages += 1
        symbols += len(page.symbols)
        notes_total += len(notes)
        notes_matched += sum(1 for n in notes if n.id)
        methods[engraver.unfolding] = methods.get(engraver.unfolding, 0) + 1
        print(f"\r{i + 1}/{len(chosen)} pieces", end="", flush=True)
    print()
    return {"pieces": len(chosen), "failures": len(failures), "failure_examples": failures[:5],
            "pages": pages, "symbols_per_page": round(symbols / max(pages, 1), 1),
            "notes": notes_total, "notes_with_verovio_id": notes_matched,
            "unfolding_methods": methods, "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=300)
    parser.add_argument("--corpus", type=int, default=60)
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA)
    parser.add_argument("--json", type=Path, default=Path("bench/out/synth_checks.json"))
    args = parser.parse_args()
    results = {"schema": check_schema(args.generated, args.schema),
               "corpus": check_corpus(args.corpus)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
