"""The MMVID-style baseline: one bidirectional transformer over [text, control, video] tokens of the shared
VQ-VAE, trained by masked-token prediction and sampled by mask-predict with candidates ranked by a relevance
and a video-consistency head.

    model.py      the transformer, the training mask, the heads' negatives, the loss
    sampling.py   mask-predict and the candidates' ranking
    api.py        MMVIDModel (generate / generate_batch), save_mmvid, build (used by ti2v.models.api.load_model)
    train.py      ti2v-train mmvid
"""
