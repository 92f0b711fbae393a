import pytest
import torch

from course_lib.lm_compression.student import DualMLM, Encoder, EncoderConfig, fvt_embeddings, rescale


def _cfg(**kw):
    return EncoderConfig(**{"vocab_size": 50, "hidden": 16, "layers": 2, "heads": 2, "ffn": 32, "max_len": 12,
                            "dropout": 0.0, **kw})


def test_forward_shapes_and_padding_invariance():
    torch.manual_seed(0)
    model = Encoder(_cfg()).eval()
    ids = torch.randint(5, 50, (3, 7))
    mask = torch.ones_like(ids)
    out = model(ids, mask)
    assert out.shape == (3, 2)
    padded = torch.cat([ids, torch.zeros(3, 3, dtype=torch.long)], 1)
    pmask = torch.cat([mask, torch.zeros(3, 3, dtype=torch.long)], 1)
    assert torch.allclose(model(padded, pmask), out, atol=1e-5)


def test_sequence_longer_than_position_table_is_refused():
    model = Encoder(_cfg())
    ids = torch.randint(5, 50, (2, 13))
    with pytest.raises(ValueError, match="position table"):
        model.check_input(ids)
    with pytest.raises(ValueError, match="position table"):
        model(ids, torch.ones_like(ids))
    with pytest.raises(ValueError, match="token ids"):
        model.check_input(torch.full((1, 3), 60))


def test_dual_head_has_two_softmaxes_and_student_embeddings_enter_the_teacher():
    torch.manual_seed(0)
    teacher = Encoder(_cfg(mlm_head=True)).eval()
    dual = DualMLM(teacher, 30, 8).eval()
    ids = torch.tensor([[1, 7, 50 + 3, 50 + 29, 2]])
    logits_t, logits_s = dual(ids, torch.ones_like(ids))
    assert logits_t.shape == (1, 5, 50) and logits_s.shape == (1, 5, 30)
    emb = dual.embed(ids)
    assert torch.allclose(emb[0, 2], dual.up(dual.student_emb.weight[3]))
    assert torch.allclose(emb[0, 1], teacher.tok.weight[7])
    with pytest.raises(ValueError, match="MLM head"):
        DualMLM(Encoder(_cfg()), 30, 8)


def test_fvt_averages_teacher_piece_embeddings():
    from tokenizers import Tokenizer, models

    teacher = Tokenizer(models.WordPiece({"[UNK]": 0, "un": 1, "##able": 2, "able": 3}, unk_token="[UNK]"))
    student = Tokenizer(models.WordPiece({"[UNK]": 0, "unable": 1, "##able": 2}, unk_token="[UNK]"))
    E = torch.randn(4, 6)
    out = fvt_embeddings(student, teacher, E, dim=6, std=1.0)
    centre = E.mean(0)
    _, _, v = torch.linalg.svd(E - centre, full_matrices=False)
    raw = torch.stack([E[0], (E[1] + E[2]) / 2, E[2]])
    expected = rescale((raw - centre) @ v[:6].T, 1.0)
    assert torch.allclose(out, expected, atol=1e-5)
