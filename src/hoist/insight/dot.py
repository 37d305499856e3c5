"""Image trees as a Graphviz graph: one node per digest, so shared layers have many parents."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from hoist.errors import HoistError, Unsupported
from hoist.insight._format import human_size, short_digest
from hoist.insight.tree import ImageTree, TreeNode, short_type

__all__ = ["render_svg", "to_dot"]

_FILL = {
    "index": "#e8eaf6",
    "manifest": "#dbe9f6",
    "config": "#fff4d6",
    "layer": "#e6f4ea",
    "blob": "#eeeeee",
    "referrer": "#f3e8fd",
    "tag": "#f5f5f5",
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _label(node: TreeNode, full: bool) -> str:
    head = f"layer {node.position}" if node.kind in ("layer", "blob") else node.kind
    if node.kind == "tag":
        head = f"tag {node.label}"
    lines = [head, short_digest(node.digest, full), short_type(node.media_type)]
    lines.append(human_size(node.size))
    if node.platform:
        lines.append(node.platform)
    if node.artifact_type:
        lines.append(node.artifact_type)
    if node.shared:
        lines.append(f"shared by {node.users}")
    return "\n".join(lines)


def to_dot(trees: Sequence[ImageTree], *, full: bool = False) -> str:
    """A ``digraph``: references, indexes, manifests, configs, layers, referrers, tags."""
    nodes: dict[str, str] = {}
    edges: dict[tuple[str, str], str] = {}

    def node_id(node: TreeNode) -> str:
        return f"tag:{node.label}" if node.kind == "tag" else str(node.digest)

    def visit(node: TreeNode) -> None:
        nid = node_id(node)
        attrs = [f"label={_quote(_label(node, full))}", f'fillcolor="{_FILL[node.kind]}"']
        if node.shared:
            attrs.append('color="#d93025", penwidth=2')
        if node.error:
            attrs.append('color="#d93025", style="rounded,filled,dashed"')
        nodes.setdefault(nid, ", ".join(attrs))
        for child in node.children:
            cid = node_id(child)
            if child.kind == "referrer":
                edges[(cid, nid)] = 'label="subject", style=dashed, dir=back'
            elif child.kind == "tag":
                edges[(nid, cid)] = 'label="digest tag", style=dotted'
            elif child.kind in ("layer", "blob"):
                edges[(nid, cid)] = f'label="layer {child.position}"'
            elif child.kind == "config":
                edges[(nid, cid)] = 'label="config"'
            else:
                edges[(nid, cid)] = f"label={_quote(child.platform or '')}"
            visit(child)

    for tree in trees:
        rid = f"ref:{tree.ref}"
        nodes[rid] = f'label={_quote(tree.ref)}, shape=plaintext, style=""'
        edges[(rid, node_id(tree.root))] = ""
        visit(tree.root)

    lines = [
        "digraph hoist {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=10];',
        '  edge [fontname="monospace", fontsize=9];',
    ]
    lines += [f"  {_quote(nid)} [{attrs}];" for nid, attrs in nodes.items()]
    for (a, b), attrs in edges.items():
        lines.append(f"  {_quote(a)} -> {_quote(b)}" + (f" [{attrs}];" if attrs else ";"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_svg(dot: str, *, timeout: float = 60.0) -> bytes:
    """Run Graphviz's ``dot -Tsvg``; Unsupported when it is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise Unsupported("svg output needs Graphviz's 'dot' program: apt-get install graphviz")
    proc = subprocess.run(
        [exe, "-Tsvg"], input=dot.encode(), capture_output=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise HoistError(f"dot -Tsvg failed: {message[0] if message else proc.returncode}")
    return proc.stdout
