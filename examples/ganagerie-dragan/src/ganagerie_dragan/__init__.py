"""ganagerie-dragan: DRAGAN (Kodali et al. 2017) and the energy distance as a ganagerie plugin."""
