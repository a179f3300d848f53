"""`python -m attnlab.evidence.report [DIR]`: docs/evidence.md from the experiments' JSON files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from attnlab.evidence import DEFAULT_OUT, NAMES


def render(directory: Path) -> str:
    lines = [
        "# Evidence: the seeds' claims, measured",
        "",
        "Each section is one `attnlab evidence NAME` run on the real data (`make evidence` reruns all of them",
        "and rewrites this page). The reading under each figure is computed from the numbers beside it.",
        "",
    ]
    missing, records = [], []
    for name in NAMES:
        path = directory / f"{name}.json"
        if not path.is_file():
            missing.append(name)
            continue
        r = json.loads(path.read_text(encoding="utf-8"))
        records.append(r)
        mode = " (quick version)" if r["quick"] else ""
        # The main figure, then the experiment's other panels (NAME-*.png: e.g. scaling-gradient.png).
        extra = sorted(p.name for p in directory.glob(f"{name}-*.png"))
        lines += [f"## {r['title']}", "", f"**Claim.** {r['claim']}", ""]
        lines += [f"![{fig}](evidence/{fig})\n" for fig in [r["figure"], *extra]]
        lines += [
            f"**Reading.** {r['reading']}",
            "",
            f"<sub>`attnlab evidence {name}`{mode}: {r['seconds']:.0f} s on {r['machine']}, {r['date']}. "
            f"Numbers: [evidence/{name}.json](evidence/{name}.json).</sub>",
            "",
        ]
    if missing:
        lines += ["## Not yet run", "", *[f"- `attnlab evidence {n}`" for n in missing], ""]
    records = [
        json.loads((directory / f"{n}.json").read_text(encoding="utf-8")) for n in NAMES if n not in missing
    ]
    total = sum(r["seconds"] for r in records)
    lines.insert(
        5, f"Recorded runs: {len(records)} of {len(NAMES)}, {total / 60:.0f} minutes of computing in all.\n"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else DEFAULT_OUT
    page = directory.parent / "evidence.md"
    page.write_text(render(directory), encoding="utf-8")
    print(f"wrote {page}")
    return page


if __name__ == "__main__":
    main()
