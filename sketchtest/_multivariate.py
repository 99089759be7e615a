"""Work in progress: being written."""


def henze_zirkler(x, /, **options):
    raise NotImplementedError("henze_zirkler is being written")


def mardia(x, /, **options):
    raise NotImplementedError("mardia is being written")


def bhep(x, /, **options):
    raise NotImplementedError("bhep is being written")
