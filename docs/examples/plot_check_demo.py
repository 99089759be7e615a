"""
The command line on the demo embeddings
=======================================

``sketchtest check --demo`` tests the small set of embeddings shipped with
sketchtest (2048 vectors of dimension 16, made by
``sketchtest/data/make_demo.py``: Gaussian except for one bimodal and one
skewed direction and two partly collapsed ones, hidden by a random
rotation). Here the command runs in-process, as ``sketchtest check --demo
--plot check.png`` would from a shell.
"""

import os
import tempfile

import matplotlib.pyplot as plt

from sketchtest.__main__ import main

# Run where a shell user would, in a working folder (a temporary one here),
# so that the report names the plot as "check.png".
workdir = tempfile.mkdtemp()
previous = os.getcwd()
os.chdir(workdir)
try:
    status = main(["check", "--demo", "--slices", "128", "--plot", "check.png"])
finally:
    os.chdir(previous)
print(f"exit status {status}")
target = os.path.join(workdir, "check.png")

# %%
# The plot: Q-Q plots of the four worst slices (a slope below 1 is too
# little variance along that direction, a curve is skew or a wrong tail),
# the histogram of the 128 slice p-values (piled up near 0, where H0 would
# spread them evenly), and the covariance spectrum, whose two smallest
# eigenvalues fall far below the range of isotropic data.

figure, axes = plt.subplots(figsize=(13, 6.5), layout="constrained")
axes.imshow(plt.imread(target))
axes.set_axis_off()
plt.show()
