import numpy as np
import pytest
import torch

from course_lib.lm_compression.student import DualMLM, Encoder, EncoderConfig
from course_lib.lm_compression.training import TaskData, decreased, train_student


def _task(n=512, vocab=60, length=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (n, length), generator=g)
    labels = (ids[:, 1] >= vocab // 2).long()
    teacher = torch.nn.functional.one_hot(labels, 2).float() * 3
    unl = labels.clone()
    unl[n // 4:] = -100
    return TaskData(ids, torch.ones_like(ids), unl, teacher, ids[:128], torch.ones_like(ids[:128]), labels[:128])


def _student(vocab=60):
    torch.manual_seed(0)
    return Encoder(EncoderConfig(vocab_size=vocab, hidden=32, layers=1, heads=2, ffn=64, max_len=16, dropout=0.0))


@pytest.mark.parametrize("arm", ["scratch", "kd"])
def test_task_losses_decrease_and_the_student_learns(arm):
    hist, acc, losses = train_student(_student(), _task(), arm, steps=120, batch_size=32, lr=3e-3, seed=0,
                                      device="cpu")
    first, last = decreased(losses)
    assert last < 0.8 * first
    assert acc > 75 and "dev_acc" in hist


def test_projection_arm_trains_the_projection_loss_down():
    teacher = Encoder(EncoderConfig(vocab_size=60, hidden=48, layers=1, heads=2, ffn=96, max_len=16, mlm_head=True))
    hist, _, _ = train_student(_student(), _task(), "kd+dual+proj", steps=60, batch_size=32, seed=0, device="cpu",
                               teacher_layers=teacher.layers)
    assert {"train_proj_down", "train_proj_up"} <= set(hist.columns)
    with pytest.raises(ValueError, match="teacher_layers"):
        train_student(_student(), _task(), "kd+dual+proj", steps=2, device="cpu")
    with pytest.raises(ValueError, match="arm"):
        train_student(_student(), _task(), "distil", steps=2, device="cpu")


def test_dual_training_loss_decreases_at_constant_p():
    from course_lib.lm_compression.data import pydoc_lines
    from course_lib.lm_compression.mixing import MixedVocab
    from course_lib.lm_compression.training import dual_train
    from course_lib.lm_compression.vocab import student_tokenizer, teacher_b_tokenizer

    torch.manual_seed(0)
    tb, st = teacher_b_tokenizer(), student_tokenizer()
    teacher = Encoder(EncoderConfig(vocab_size=tb.get_vocab_size(), hidden=32, layers=1, heads=2, ffn=64,
                                    max_len=48, mlm_head=True))
    dual = DualMLM(teacher, st.get_vocab_size(), 16)
    _, losses, frac = dual_train(dual, MixedVocab(tb, st), pydoc_lines(300), steps=40, batch_size=16, lr=3e-3,
                                 p_max=0.5, ramped=False, device="cpu")
    first, last = decreased(losses)
    assert last < 0.95 * first
    assert abs(frac - 0.5) < 0.05


def test_decreased_needs_a_curve():
    with pytest.raises(ValueError):
        decreased(np.array([1.0]))


def test_minilm_alignment_moves_only_the_student_embeddings_and_projection():
    from course_lib.lm_compression.mixing import MixedVocab
    from course_lib.lm_compression.teachers import load_minilm
    from course_lib.lm_compression.training import MiniLMAlignment, align_minilm
    from course_lib.lm_compression.vocab import student_tokenizer, teacher_tokenizer

    _, minilm = load_minilm("cpu")
    before = minilm.get_input_embeddings().weight.clone()
    align = MiniLMAlignment(minilm, student_tokenizer().get_vocab_size(), 16)
    emb0 = align.student_emb.weight.detach().clone()
    texts = ["a charming and often affecting journey", "unflinchingly bleak and desperate", "a dull movie"] * 3
    _, losses = align_minilm(align, MixedVocab(teacher_tokenizer(), student_tokenizer()), texts, steps=3,
                             batch_size=4, device="cpu")
    assert np.isfinite(np.asarray(losses)).all()
    assert torch.equal(minilm.get_input_embeddings().weight, before)
    assert not torch.equal(align.student_emb.weight.detach(), emb0)


def test_predict_gives_probabilities():
    from course_lib.lm_compression.training import predict
    from course_lib.lm_compression.vocab import student_tokenizer

    model = Encoder(EncoderConfig(vocab_size=5000, hidden=16, layers=1, heads=2, ffn=32, max_len=64))
    probs = predict(model, student_tokenizer(), ["a charming journey", "bleak"])
    assert probs.shape == (2, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_committed_demo_student_loads_and_predicts():
    from course_lib.lm_compression.experiments import load_demo_student
    from course_lib.lm_compression.training import predict
    from course_lib.lm_compression.vocab import student_tokenizer

    model = load_demo_student()
    probs = predict(model, student_tokenizer(), ["a charming and often affecting journey .", "dull , lifeless"])
    assert probs.shape == (2, 2) and probs[0, 1] > probs[1, 1]
