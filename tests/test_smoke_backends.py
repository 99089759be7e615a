import numpy as np
import sketchtest as st
from support import rtol_for, round_like


def test_jarque_bera_runs_on_every_backend(backend, dtype_name):
    data = np.random.default_rng(0).standard_normal((40, 3))
    result = st.jarque_bera(backend.asarray(data, dtype_name))
    expected = st.jarque_bera(round_like(data, dtype_name))
    np.testing.assert_allclose(backend.to_numpy(result.statistic), expected.statistic, rtol=rtol_for(dtype_name))
