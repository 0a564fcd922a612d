"""Write the guides of docs/*.md as the RST pages antsibull-docs publishes with the plugin docs (docs/docsite/rst/).

The Markdown in docs/ stays the source: edit it, then run ``python docs/docsite/md2rst.py`` (needs pandoc on PATH;
Debian: ``apt-get install pandoc``). Each page records the SHA-256 of its source, and
tests/unit/test_release_metadata.py fails when a guide changed after its page was written or has no page.

Links are rewritten for the docsite: a link to a guide or to one of its sections becomes a ``:ref:`` to the label
this script gives every section, a link to any other file of the repository points to it on GitHub, and so does an
image.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUIDES = REPO / "docs"
PAGES = REPO / "docs" / "docsite" / "rst"
GITHUB = "https://github.com/pinotops/pinotops.k8s"
LABEL_PREFIX = "ansible_collections.pinotops.k8s.docsite."
SOURCE_LINE = "Source SHA-256: "


def guides() -> list[Path]:
    return sorted(GUIDES.glob("*.md"))


def page_of(guide: Path) -> Path:
    return PAGES / f"{guide.stem}.rst"


def label(stem: str, anchor: str = "") -> str:
    return LABEL_PREFIX + stem + (f".{anchor}" if anchor else "")


def digest(guide: Path) -> str:
    return hashlib.sha256(guide.read_bytes()).hexdigest()


def pandoc(args: list[str], data: str | None = None) -> str:
    try:
        done = subprocess.run(["pandoc", *args], input=data, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        sys.exit("md2rst: pandoc is not on PATH (Debian: apt-get install pandoc)")
    if done.returncode:
        sys.exit(f"md2rst: pandoc {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def stringify(inlines: list) -> str:
    out = []
    for node in inlines:
        kind, content = node["t"], node.get("c")
        if kind in ("Str", "Code", "Math", "RawInline"):
            out.append(content if isinstance(content, str) else content[-1])
        elif kind in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
        elif kind in ("Link", "Image", "Span"):
            out.append(stringify(content[1]))
        elif kind == "Quoted":
            out.append('"' + stringify(content[1]) + '"')
        elif isinstance(content, list):
            out.append(stringify([c for c in content if isinstance(c, dict)]) if content else "")
    return "".join(out)


class Converter:
    def __init__(self, stems: set[str]):
        self.stems = stems
        self.errors: list[str] = []

    def unwrapped(self, guide: Path) -> str:
        """The guide with every line that starts with ``<`` outside code blocks joined to the line before.

        Such a line opens an HTML block in GitHub's Markdown (``<table>`` at the start of a wrapped line ends the
        paragraph there, and breaks a code span that goes on over it); the guides hold no HTML, so the line was meant
        to go on the paragraph. Each one is reported so that the guide can be rewrapped.
        """
        lines: list[str] = []
        fence = ""
        for number, line in enumerate(guide.read_text().splitlines(), 1):
            stripped = line.lstrip()
            if fence:
                fence = "" if stripped.startswith(fence) else fence
            elif stripped.startswith(("```", "~~~")):
                fence = stripped[:3]
            elif stripped.startswith("<") and lines and lines[-1].strip():
                print(f"md2rst: docs/{guide.name}:{number}: a line starting with '<' opens an HTML block in "
                      "Markdown (GitHub shows it so): joined to the line before; rewrap the guide")
                lines[-1] += " " + stripped
                continue
            lines.append(line)
        return "\n".join(lines) + "\n"

    def target(self, stem: str, url: str) -> tuple[str, str]:
        """("ref", label) for a guide or one of its sections, else ("url", absolute URL)."""
        if url.startswith(("http://", "https://", "mailto:")):
            return "url", url
        path, anchor = url.partition("#")[::2]
        if not path:
            return "ref", label(stem, anchor)
        resolved = posixpath.normpath(posixpath.join("docs", path))
        name = posixpath.basename(resolved)
        if posixpath.dirname(resolved) == "docs" and name.endswith(".md") and name[:-3] in self.stems:
            return "ref", label(name[:-3], anchor)
        if resolved.startswith("../") or not (REPO / resolved).exists():
            self.errors.append(f"docs/{stem}.md: link to {url!r}: no such file in the repository")
        return "url", f"{GITHUB}/blob/main/{resolved}" + (f"#{anchor}" if anchor else "")

    def inlines(self, stem: str, nodes: list) -> list:
        out = []
        for node in nodes:
            kind = node["t"]
            if kind == "Link":
                attr, text, (url, title) = node["c"]
                how, where = self.target(stem, url)
                if how == "ref":
                    shown = stringify(text)
                    if shown.endswith(".md"):  # a file name as the text: Sphinx shows the section's title
                        role = f":ref:`{where}`"
                    else:
                        shown = shown.replace("\\", "\\\\").replace("`", "\\`").replace("<", "\\<")
                        role = f":ref:`{shown} <{where}>`"
                    out.append({"t": "RawInline", "c": ["rst", role]})
                    continue
                node = {"t": "Link", "c": [attr, self.inlines(stem, text), [where, title]]}
            elif kind == "Image":
                attr, text, (url, title) = node["c"]
                how, where = self.target(stem, url)
                node = {"t": "Image", "c": [attr, text, [where.replace("/blob/", "/raw/", 1), title]]}
            else:
                node = dict(node)
                if "c" in node:
                    node["c"] = self.walk(stem, node["c"])
            out.append(node)
        return out

    def walk(self, stem: str, value):
        if isinstance(value, list):
            if value and all(isinstance(v, dict) and "t" in v for v in value):
                if all(v["t"] in INLINE for v in value):
                    return self.inlines(stem, value)
                return self.blocks(stem, value)
            return [self.walk(stem, v) for v in value]
        if isinstance(value, dict) and "t" in value:
            return self.walk(stem, [value])[0]
        return value

    def blocks(self, stem: str, nodes: list) -> list:
        out = []
        for node in nodes:
            if node["t"] == "CodeBlock" and node["c"][0][1] == ["json"] and is_json_lines(node["c"][1]):
                # One JSON document per line: highlighted as json on GitHub, refused as json by the docs' linter.
                node = {"t": "CodeBlock", "c": [[node["c"][0][0], ["text"], node["c"][0][2]], node["c"][1]]}
            if node["t"] == "Header":
                level, (ident, classes, kv), text = node["c"]
                name = label(stem) if level == 1 else label(stem, ident)
                out.append({"t": "RawBlock", "c": ["rst", f".. _{name}:"]})
                node = {"t": "Header", "c": [level, ["", classes, kv], self.inlines(stem, text)]}
            else:
                node = dict(node)
                if "c" in node:
                    node["c"] = self.walk(stem, node["c"])
            out.append(node)
        return out

    def page(self, guide: Path) -> str:
        ast = json.loads(pandoc(["--from=gfm", "--to=json"], self.unwrapped(guide)))
        ast["blocks"] = self.blocks(guide.stem, ast["blocks"])
        # No wrapping: pandoc would break a :ref: inside a table cell, and the rendered page does not care.
        body = pandoc(["--from=json", "--to=rst", "--wrap=none", "--columns=100000"], json.dumps(ast))
        # A label needs a blank line before the title it names.
        body = re.sub(r"^(\.\. _[^\n]+:)\n(?=\S)", r"\1\n\n", body, flags=re.M)
        header = (
            "..\n"
            f"  Generated from docs/{guide.name} by docs/docsite/md2rst.py: edit the Markdown, then run\n"
            "  python docs/docsite/md2rst.py (needs pandoc).\n"
            f"  {SOURCE_LINE}{digest(guide)}\n\n"
        )
        return header + body


def is_json_lines(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        pass
    else:
        return False
    try:
        return all(json.loads(line) is not None for line in text.splitlines() if line.strip())
    except ValueError:
        return False


INLINE = {
    "Str", "Emph", "Underline", "Strong", "Strikeout", "Superscript", "Subscript", "SmallCaps", "Quoted", "Cite",
    "Code", "Space", "SoftBreak", "LineBreak", "Math", "RawInline", "Link", "Image", "Note", "Span",
}


def main() -> None:
    sources = guides()
    converter = Converter({guide.stem for guide in sources})
    pages = {page_of(guide): converter.page(guide) for guide in sources}
    if converter.errors:
        sys.exit("md2rst: " + "\n".join(converter.errors))
    PAGES.mkdir(parents=True, exist_ok=True)
    for stale in set(PAGES.glob("*.rst")) - set(pages):
        stale.unlink()
        print(f"md2rst: removed {stale.relative_to(REPO)}")
    for path, text in pages.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"md2rst: wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
