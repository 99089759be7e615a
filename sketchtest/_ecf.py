"""Work in progress: being written."""

def epps_pulley(x, /, **options):
    raise NotImplementedError("epps_pulley is being written")


