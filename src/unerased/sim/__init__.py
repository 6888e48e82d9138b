"""Simulations for trying unerased and for tests and benchmarks: synthetic archives in
each platform's real layout (:mod:`~unerased.sim.archives`: X;
:mod:`~unerased.sim.archives_fedi`: Mastodon, Bluesky CAR), a simulated Mastodon-API
platform under a censorship campaign (:mod:`~unerased.sim.platform`), the campaign's
ground truth (:mod:`~unerased.sim.campaign`), the scoring of an archive against it
(:mod:`~unerased.sim.score`) and the live demo (:mod:`~unerased.sim.demo`,
:mod:`~unerased.sim.demo_view`). Names load at first use (see :mod:`unerased._lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from . import archives, archives_fedi, campaign, demo, demo_view, platform, score
    from .archives import make_twitter_archive
    from .archives_fedi import make_bluesky_car, make_mastodon_archive
    from .campaign import generate_campaign
    from .demo import run_demo
    from .platform import BASE, HOST, Flaky, SimPlatform, demo_clock

__all__ = [
    "BASE",
    "HOST",
    "Flaky",
    "SimPlatform",
    "archives",
    "archives_fedi",
    "campaign",
    "demo",
    "demo_clock",
    "demo_view",
    "generate_campaign",
    "make_bluesky_car",
    "make_mastodon_archive",
    "make_twitter_archive",
    "platform",
    "run_demo",
    "score",
]

__getattr__ = exports(__name__, {
    "make_twitter_archive": "archives",
    "make_bluesky_car": "archives_fedi",
    "make_mastodon_archive": "archives_fedi",
    "run_demo": "demo",
    "generate_campaign": "campaign",
    **{name: "platform" for name in ("BASE", "HOST", "Flaky", "SimPlatform", "demo_clock")},
    **{m: m for m in ("archives", "archives_fedi", "campaign", "demo", "demo_view",
                      "platform", "score")},
})
