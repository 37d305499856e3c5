"""Image insight: trees and shared layers, base checks, diffs, end-to-end verification.

::

    from hoist.client import Client
    from hoist import insight

    with Client() as client:
        trees = insight.build_trees(client, ["ocidir://oci:base", "ocidir://oci:app"])
        print(insight.tree.render_text(trees))            # shared layers marked
        print(insight.to_dot(trees))                       # Graphviz
        check = insight.check_base(client, "ocidir://oci:app", "ocidir://oci:base")
        print(check.status)                                # up to date / rebuild needed
        a, b = client.image("ocidir://oci:v1"), client.image("ocidir://oci:v2")
        print(insight.diff.render_text(insight.diff_images(a, b, files=True)))
        img = client.image("ocidir://oci:app")
        report = insight.verify_image(img.store, img.ref)  # every digest, size, diff_id
        print(insight.verify.render_text(report))
"""

from hoist.insight import base, diff, dot, tree, verify
from hoist.insight.base import BaseCheck, check_base
from hoist.insight.diff import ImageDiff, diff_images
from hoist.insight.dot import render_svg, to_dot
from hoist.insight.tree import ImageTree, TreeNode, build_tree, build_trees
from hoist.insight.verify import Check, VerifyReport, verify_image

__all__ = [
    "BaseCheck",
    "Check",
    "ImageDiff",
    "ImageTree",
    "TreeNode",
    "VerifyReport",
    "base",
    "build_tree",
    "build_trees",
    "check_base",
    "diff",
    "diff_images",
    "dot",
    "render_svg",
    "to_dot",
    "tree",
    "verify",
    "verify_image",
]
