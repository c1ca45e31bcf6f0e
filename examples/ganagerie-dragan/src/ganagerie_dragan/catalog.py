"""What ganagerie-dragan registers: each name, where its factory lives and its line of help.

ganagerie imports this module when it starts, and a technique's module (with torch) only
when a run builds it: with this plugin installed, ``ganagerie list`` still starts at once.
"""

from __future__ import annotations

from ganagerie import hookimpl


@hookimpl
def register_regularizers(register):
    register("dragan", "ganagerie_dragan.dragan:DraganPenalty",
             "Gradient penalty at random perturbations of the real data, weight * (||grad D|| - 1)^2.")


@hookimpl
def register_variants(register):
    register("dragan", "ganagerie_dragan.dragan:dragan_preset",
             "Non-saturating loss + DRAGAN penalty 10, Adam(1e-4, 0.5, 0.9) (Kodali et al. 2017's code).")


@hookimpl
def register_metrics(register):
    register("energy-distance", "ganagerie_dragan.energy_distance:EnergyDistance",
             "Energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| to the test split, "
             "unbiased (Székely & Rizzo 2013).")
