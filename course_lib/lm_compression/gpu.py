"""GPU-check hook (``make gpu-check``, :mod:`course_lib.gpu_check`): a smoke pass of the LM-compression pieces on
the device — dual training of a tiny teacher with two softmaxes on mixed-vocabulary pydoc sentences (stdlib text,
committed vocabularies), KD and projection-arm student training on random token ids — and a fixed forward pass of
a student and of the two-softmax head to compare with the CPU."""
from __future__ import annotations

import torch

from course_lib.gpu_check import amp_call
from course_lib.lm_compression.student import DualMLM, Encoder, EncoderConfig


def _tiny(vocab: int, hidden: int, ffn: int, mlm: bool) -> Encoder:
    return Encoder(EncoderConfig(vocab_size=vocab, hidden=hidden, layers=2, heads=2, ffn=ffn, max_len=32,
                                 mlm_head=mlm, dropout=0.0))


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """20 dual-training steps (teacher 2 × 64, student vocabulary 5K), then 20 steps of the ``kd`` and
    ``kd+dual+proj`` arms on random ids; returns the last losses and the dev accuracy of each arm."""
    from course_lib.lm_compression.data import pydoc_lines
    from course_lib.lm_compression.mixing import MixedVocab
    from course_lib.lm_compression.training import TaskData, dual_train, train_student
    from course_lib.lm_compression.vocab import student_tokenizer, teacher_b_tokenizer

    torch.manual_seed(0)
    tb, st = teacher_b_tokenizer(), student_tokenizer()
    teacher = _tiny(tb.get_vocab_size(), 64, 128, True).to(device)
    dual = DualMLM(teacher, st.get_vocab_size(), 32).to(device)
    _, losses, frac = amp_call(dual_train, dual, MixedVocab(tb, st), pydoc_lines(300), steps=20, batch_size=16,
                               p_max=0.5, seed=0, device=device, amp=amp)
    out = {"dual loss": float(losses[-1]), "student fraction": float(frac)}
    g = torch.Generator().manual_seed(0)
    n, length, vocab = 256, 16, 200
    ids = torch.randint(5, vocab, (n, length), generator=g)
    labels = (ids[:, 1] % 2).long()
    data = TaskData(ids, torch.ones_like(ids), labels, torch.nn.functional.one_hot(labels, 2).float() * 4,
                    ids[:64], torch.ones_like(ids[:64]), labels[:64])
    for arm in ("kd", "kd+dual+proj"):
        torch.manual_seed(0)
        student = _tiny(vocab, 32, 64, False)
        _, acc, curve = train_student(student, data, arm, steps=20, batch_size=32, seed=0, device=device,
                                      amp=amp, teacher_layers=teacher.layers if arm.endswith("proj") else None)
        out[f"{arm} loss"] = float(curve[-1])
        out[f"{arm} acc"] = float(acc)
    return out


def fixed_forward(device: torch.device) -> list[torch.Tensor]:
    """Seeded student and two-softmax teacher; one float32 forward in eval mode on fixed ids."""
    torch.manual_seed(0)
    student = _tiny(300, 32, 64, False).to(device).eval()
    teacher = _tiny(200, 64, 128, True)
    dual = DualMLM(teacher, 100, 32).to(device).eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 300, (4, 12), generator=g).to(device)
    mask = torch.ones_like(ids)
    mixed = torch.randint(5, 300, (4, 12), generator=g).to(device)
    with torch.no_grad():
        logits_t, logits_s = dual(mixed, mask)
        return [student(ids, mask), logits_t, logits_s]
