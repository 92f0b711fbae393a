"""Self-check exercises of the LM-compression series (ids ``lm_compression.N``).

Notebook 1: the embedding share of MiniLM (1), build the BERT parameter count (2), build the mixed sequence of
one sentence (3). Notebook 2: the analytic size ratio of int8 dynamic quantization (4), the measured gain of
logit KD over training from scratch (5). Notebook 3: a word the two vocabularies segment differently (6), the
pieces the student vocabulary needs for a sentence (7).
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from course_lib import cost
from course_lib.exercises import Exercise, build_checker, close_to_computed, register


# ------------------------------------------------------------------------------------------ MiniLM, analytic
@functools.cache
def _minilm_config():
    from transformers import BertConfig

    from course_lib.lm_compression.teachers import minilm_path

    return BertConfig.from_pretrained(minilm_path(), local_files_only=True)


def _meta_bert(config, pooler: bool = True):
    """The BERT encoder of ``config`` on the meta device: shapes only, no memory, no weights loaded."""
    from transformers import BertModel

    with torch.device("meta"):
        return BertModel(config, add_pooling_layer=pooler)


def minilm_embedding_share() -> float:
    """Word-embedding parameters / all parameters of MiniLM as loaded by ``AutoModel`` (pooler included)."""
    cfg = _minilm_config()
    return cfg.vocab_size * cfg.hidden_size / cost.count_params(_meta_bert(cfg))


def bert_encoder_params(vocab_size: int, hidden: int, layers: int, ffn: int, positions: int) -> int:
    """Parameters of a BERT encoder without pooler and MLM head (2 token types), counted by ``cost.count_params``
    on the ``transformers`` module built on the meta device — the reference of exercise 2."""
    from transformers import BertConfig

    cfg = BertConfig(vocab_size=int(vocab_size), hidden_size=int(hidden), num_hidden_layers=int(layers),
                     num_attention_heads=1, intermediate_size=int(ffn), max_position_embeddings=int(positions))
    return cost.count_params(_meta_bert(cfg, pooler=False))


def _bert_inputs(rng):
    hidden = int(rng.choice([32, 48, 96, 128, 384]))
    return (int(rng.integers(500, 40000)), hidden, int(rng.integers(1, 13)), int(rng.choice([2, 4])) * hidden,
            int(rng.choice([64, 128, 512])))


def int8_size_ratio() -> float:
    """fp32 bytes / bytes with every Linear weight in int8 (one fp32 scale per tensor; all else fp32), MiniLM."""
    model = _meta_bert(_minilm_config())
    return cost.analytic_bytes(model, 32) / cost.analytic_bytes(model, 8, per_channel=False)


# ---------------------------------------------------------------------------------------- the mixed sequence
@functools.cache
def _mixer():
    from course_lib.lm_compression.mixing import MixedVocab
    from course_lib.lm_compression.vocab import student_tokenizer, teacher_tokenizer

    return MixedVocab(teacher_tokenizer(), student_tokenizer())


_WORDS = ("the film is a quirky , heartwarming story about misfits and unforgettable friendships ; its "
          "screenplay never condescends , although the pacing drags in the overlong middle act .").split()


class _FixedDraws:
    """Stands in for a numpy Generator in ``MixedVocab.mix``: ``random(n)`` returns 0 where the word goes to the
    student vocabulary and 1 elsewhere, so ``mix(..., p=0.5)`` makes exactly the given choices."""

    def __init__(self, use_student):
        self.draws = np.where(np.asarray(use_student, dtype=bool), 0.0, 1.0)

    def random(self, n):
        assert n == len(self.draws)
        return self.draws


def _mix_inputs(rng):
    mixer = _mixer()
    words = [str(w) for w in rng.choice(_WORDS, size=int(rng.integers(3, 10)))]
    wp = mixer.pieces([" ".join(words)])[0]
    use = [bool(b) for b in rng.random(len(wp.words)) < 0.5]
    return ([list(t) for t in wp.teacher], [list(s) for s in wp.student], use, mixer.teacher_size, mixer.cls,
            mixer.sep)


def _mix_reference(teacher_pieces, student_pieces, use_student, teacher_size, cls_id, sep_id):
    from course_lib.lm_compression.mixing import WordPieces

    mixer = _mixer()
    assert (teacher_size, cls_id, sep_id) == (mixer.teacher_size, mixer.cls, mixer.sep)
    wp = WordPieces(tuple(f"w{i}" for i in range(len(use_student))), tuple(map(tuple, teacher_pieces)),
                    tuple(map(tuple, student_pieces)))
    return mixer.mix([wp], 0.5, _FixedDraws(use_student), max_length=512).ids[0]


def _check_mix(fn) -> bool | str:
    verdict = build_checker(_mix_reference, _mix_inputs, atol=0, rtol=0, name="mix_one_sentence")(fn)
    if isinstance(verdict, str) and "shape" in verdict:
        return verdict + " — one id per piece, plus [CLS] at the start and [SEP] at the end"
    return verdict


# --------------------------------------------------------------------------------------------- notebook 3
def _check_word(ans) -> bool | str:
    if not isinstance(ans, str) or not ans.strip():
        return "give one word as a string, e.g. answer = \"film\""
    mixer = _mixer()
    words = mixer.words(ans)
    if len(words) != 1:
        return f"give a single word (that text splits into {len(words)} words: {words})"
    wp = mixer.pieces([ans])[0]
    teacher = [mixer.teacher.id_to_token(i) for i in wp.teacher[0]]
    student = [mixer.student.id_to_token(i) for i in wp.student[0]]
    if teacher == student:
        return f"both vocabularies segment {ans!r} the same way ({teacher}); look for a longer or rarer word"
    return True


def _student_pieces(sentence: str) -> int:
    return sum(len(w) for w in _mixer().pieces([sentence])[0].student)


SENTENCE_7 = "an unforgettably quirky , heartwarming film about misfits ."


def _check_pieces(ans) -> bool | str:
    try:
        val = int(ans)
    except (TypeError, ValueError):
        return "give a whole number of pieces"
    want = _student_pieces(SENTENCE_7)
    if val == want + 2:
        return "leave out the special tokens [CLS] and [SEP]"
    return val == want or "count the student-vocabulary boxes of that sentence in the explorer (p = 1 shows them)"


# --------------------------------------------------------------------------------------------- notebook 2
def kd_gain(results=None) -> float:
    """Mean SST-2 dev accuracy [points] of ``kd`` minus that of ``scratch`` over the seeds of the committed course
    results (``experiments.load_course_results``; columns ``arm``, ``seed``, ``dev_acc``)."""
    if results is None:
        from course_lib.lm_compression import experiments

        results, _ = experiments.load_course_results()
    mean = results.groupby("arm")["dev_acc"].mean()
    return float(mean["kd"] - mean["scratch"])


register(
    Exercise("lm_compression.1", "What fraction of MiniLM's parameters (all-MiniLM-L6-v2 as loaded by AutoModel) "
             "is the word-embedding table? A float between 0 and 1, to within 0.005.",
             close_to_computed(minilm_embedding_share, 0.005),
             hint="the word-embedding table holds one vector of the hidden size per vocabulary entry",
             hint2="vocab_size × hidden_size from the config, divided by the number of parameters of the model"),
    Exercise("lm_compression.2", "Build it: bert_params(vocab_size, hidden, layers, ffn, positions) -> int, the "
             "parameters of a BERT encoder without pooler or MLM head (2 token types), without course_lib.",
             build_checker(bert_encoder_params, _bert_inputs, atol=0, rtol=0, name="bert_params"),
             hint="embeddings: words, positions, token types and one LayerNorm; each layer: attention, its "
             "LayerNorm, the feed-forward block and its LayerNorm — with every bias",
             hint2="a Linear a → b has a·b + b parameters and a LayerNorm of width h has 2h; the embeddings are "
             "three tables of width h plus one LayerNorm; each layer has four h → h Linears (Q, K, V, output), "
             "h → f and f → h, and two LayerNorms"),
    Exercise("lm_compression.3", "Build it: mix_one_sentence(teacher_pieces, student_pieces, use_student, "
             "teacher_size, cls_id, sep_id) -> list of ids in the joint space, without course_lib.",
             _check_mix,
             hint="student ids are shifted by teacher_size so that one sequence can hold both vocabularies",
             hint2="[cls_id], then for each word its teacher ids, or its student ids + teacher_size when "
             "use_student is True, then [sep_id]"),
    Exercise("lm_compression.4", "If quantize_dynamic stored every Linear weight of MiniLM in int8 (one fp32 "
             "scale per tensor) and everything else in fp32, how many times smaller would the model be? "
             "(analytic bytes, to within 0.02)", close_to_computed(int8_size_ratio, 0.02),
             hint="only the Linear weights shrink, 4 bytes → 1 byte; the embedding tables stay 4 bytes each",
             hint2="fp32 bytes = 4 × all parameters; int8 bytes = 1 × Linear weights + 4 × the rest (+ scales)"),
    Exercise("lm_compression.5", "From the committed course results: the mean SST-2 dev accuracy of `kd` minus "
             "that of `scratch` over the seeds, in points (within 0.01).",
             close_to_computed(kd_gain, 0.01),
             hint="average each arm over its seeds first, then subtract",
             hint2="table, meta = experiments.load_course_results(); table.groupby('arm')['dev_acc'].mean(), then "
             "the kd entry minus the scratch entry"),
    Exercise("lm_compression.6", "Find one word that the teacher vocabulary and the student vocabulary segment "
             "differently (answer = the word, a string).", _check_word,
             hint="short, frequent words are single pieces in both; try a longer or rarer word in the explorer",
             hint2="type a sentence with long words into the explorer at p = 1 and compare the rows"),
    Exercise("lm_compression.7", f"How many student-vocabulary pieces does the sentence “{SENTENCE_7}” "
             "need, without [CLS] and [SEP]?", _check_pieces,
             hint="set p = 1 in the explorer: every word is then in student pieces",
             hint2="count the orange boxes (the middle row), leaving out the two grey special tokens"),
)
