"""Sample images and fixtures shared by hoist's tests, its demo and its benchmarks.

:mod:`hoist.testing.sample` builds small, reproducible images (a two-platform base and an app on
it) in any store; nothing here touches the network.
"""
