"""Work in progress: being written."""

def shapiro_wilk(x, /, **options):
    raise NotImplementedError("shapiro_wilk is being written")


def shapiro_francia(x, /, **options):
    raise NotImplementedError("shapiro_francia is being written")


