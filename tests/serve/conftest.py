import pytest

from servers import start


@pytest.fixture(scope="module")
def server(model_dir):
    s = start(model_dir, "--max-wait-ms", "20")
    yield s
    s.stop()
