"""Work in progress: being written."""


def sigreg(z, /, **options):
    raise NotImplementedError("sigreg is being written")
