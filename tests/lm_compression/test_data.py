import numpy as np
import pytest

from course_lib.data import DataUnavailable


def _sst2():
    from course_lib.lm_compression.data import load_sst2

    try:
        return load_sst2("train")
    except DataUnavailable:
        pytest.skip("SST-2 not available offline")


def test_sst2_splits_and_low_label_regime():
    from course_lib.lm_compression.data import load_sst2, low_label_split

    train = _sst2()
    assert len(train) == 60614 and len(load_sst2("test")) == 872
    split = low_label_split(2000, 18000, seed=0)
    assert len(split.labelled) == 2000 and len(split.transfer) == 18000 and len(split.dev) == 872
    assert len(set(split.index.tolist())) == 20000
    assert set(np.unique(split.labelled.labels)) == {0, 1}
    again = low_label_split(2000, 18000, seed=0)
    assert np.array_equal(split.index, again.index)


def test_secondary_tasks_and_pretraining_corpus():
    _sst2()
    from course_lib.lm_compression.data import load_cola, load_mrpc, pretraining_corpus, pydoc_lines

    mrpc = load_mrpc("test")
    assert len(mrpc) == 1725 and mrpc.pairs is not None and len(mrpc.pairs) == 1725
    assert int(mrpc.labels.sum()) == 1147
    assert len(load_cola("dev")) == 516
    corpus = pretraining_corpus(max_sst2=10, max_other=5)
    assert len(corpus) == 20 and corpus[-5:] == pydoc_lines(5)


def test_bad_arguments():
    from course_lib.lm_compression.data import load_sst2, low_label_split

    with pytest.raises(ValueError, match="split"):
        load_sst2("validation")
    with pytest.raises(ValueError, match="n_labelled"):
        low_label_split(0, 10)
