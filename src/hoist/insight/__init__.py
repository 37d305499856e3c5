"""Image insight: trees and shared layers, base checks, diffs, end-to-end verification.

Each verb takes locations or images and returns a typed report with ``to_dict()``::

    from hoist.client import Client
    from hoist import insight

    with Client() as client:
        base, app = client.at("ocidir://oci:base"), client.at("ocidir://oci:app")
        trees = insight.image_tree([base, app])
        print(insight.tree.render_text(trees))            # shared layers marked
        print(insight.to_dot(trees))                       # Graphviz
        check = insight.image_check_base(client.image(app), client.image(base))
        print(check.status)                                # up to date / rebuild needed
        a, b = client.image("ocidir://oci:v1"), client.image("ocidir://oci:v2")
        print(insight.diff.render_text(insight.image_diff(a, b, files=True)))
        report = insight.image_verify(app)                 # every digest, size, diff_id
        print(insight.verify.render_text(report))
"""

from hoist.insight import base, diff, dot, tree, verify
from hoist.insight.base import BaseCheck, image_check_base
from hoist.insight.diff import ImageDiff, image_diff
from hoist.insight.dot import render_svg, to_dot
from hoist.insight.tree import ImageTree, TreeNode, image_tree
from hoist.insight.verify import Check, VerifyReport, image_verify

__all__ = [
    "BaseCheck",
    "Check",
    "ImageDiff",
    "ImageTree",
    "TreeNode",
    "VerifyReport",
    "base",
    "diff",
    "dot",
    "image_check_base",
    "image_diff",
    "image_tree",
    "image_verify",
    "render_svg",
    "to_dot",
    "tree",
    "verify",
]
