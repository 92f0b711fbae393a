import pytest
import torch

from course_lib import data as course_data
from course_lib.faan.benchmark import umls_one


@pytest.fixture(scope="session")
def umls_bench():
    torch.set_num_threads(1)
    try:
        return umls_one(0)
    except course_data.DataUnavailable:
        pytest.skip("UMLS is not available offline (set COURSE_DATA_MIRROR)")
