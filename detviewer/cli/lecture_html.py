"""One self-contained HTML page to click through a deck of slide PNGs: every image embedded (no other file
needed), Right / Space / click for the next slide, Left for the previous, Home / End, and the slide's caption
as its alternative text."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

__all__ = ["write_deck_html"]

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
html, body {{ margin: 0; height: 100%; background: #111318; color: #ddd; font: 18px sans-serif; }}
#slide {{ display: block; width: 100vw; height: calc(100vh - 34px); object-fit: contain; cursor: pointer; }}
#bar {{ height: 34px; line-height: 34px; text-align: center; user-select: none; }}
#bar button {{ background: #2a2e36; color: #eee; border: 0; padding: 2px 14px; margin: 0 8px; font: inherit; }}
</style></head>
<body>
<img id="slide" alt="">
<div id="bar"><button id="prev">◀</button><span id="where"></span><button id="next">▶</button></div>
<script>
const slides = {slides};
let at = 0;
function show(i) {{
  at = Math.max(0, Math.min(slides.length - 1, i));
  const s = slides[at];
  const img = document.getElementById("slide");
  img.src = "data:image/png;base64," + s.png;
  img.alt = s.caption;
  img.title = s.title;
  document.getElementById("where").textContent = (at + 1) + " / " + slides.length + " · " + s.title;
  history.replaceState(null, "", "#" + (at + 1));
}}
document.getElementById("slide").onclick = () => show(at + 1);
document.getElementById("next").onclick = () => show(at + 1);
document.getElementById("prev").onclick = () => show(at - 1);
document.addEventListener("keydown", e => {{
  if (["ArrowRight", "PageDown", " "].includes(e.key)) {{ show(at + 1); e.preventDefault(); }}
  if (["ArrowLeft", "PageUp"].includes(e.key)) {{ show(at - 1); e.preventDefault(); }}
  if (e.key === "Home") show(0);
  if (e.key === "End") show(slides.length - 1);
}});
show((parseInt(location.hash.slice(1)) || 1) - 1);
</script>
</body></html>
"""


def write_deck_html(path: Path, slides: list[tuple[Path, str, str]], title: str) -> Path:
    """Write the page to ``path``: slides are (PNG file, title, caption), in order."""
    data = [{"png": base64.b64encode(Path(png).read_bytes()).decode("ascii"), "title": name, "caption": caption}
            for png, name, caption in slides]
    # "</" inside a <script> would end it; JSON escapes it as "<\/".
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    from detviewer.io.atomic import write_text

    return write_text(path, _PAGE.format(title=html.escape(title), slides=payload))
