"""Work in progress: being written."""

def cramer_von_mises(x, /, **options):
    raise NotImplementedError("cramer_von_mises is being written")


def anderson_darling(x, /, **options):
    raise NotImplementedError("anderson_darling is being written")


def watson(x, /, **options):
    raise NotImplementedError("watson is being written")


def kolmogorov_smirnov(x, /, **options):
    raise NotImplementedError("kolmogorov_smirnov is being written")


