"""Reference MAGE (Hu et al., "Make It Move", CVPR 2022), one module per part of the paper's section 3.

| module | paper | holds |
|---|---|---|
| ``config`` | Sec. 4.2, release sizes | dataclass configs, ``templates/presets/train-<dataset>.yaml`` presets, overrides |
| ``vqvae`` | Sec. 3.2, Eq. 1 | VQ-VAE: encoder/decoder, EMA codebook, k-means++ init, dead-code restart, perplexity |
| ``vocabulary`` | Sec. 3.3.1 | vocabulary from ``templates/captions/*.yaml``, tokenizer |
| ``text_encoder`` | Sec. 3.3.1 | word embeddings + 2-layer transformer -> e_s |
| ``motion_anchor`` | Sec. 3.3.1, Eq. 2 | cross-attention of first-frame tokens to the text -> M |
| ``conditions`` | Sec. 3.3.2, Eqs. 3-5 | speed phi, randomness psi (3D conv VIB), AdaIN |
| ``axial_transformer`` | Sec. 3.3.3, Eq. 6 | axial blocks (causal time, rows, columns), time KV cache |
| ``mage`` | Sec. 3.3, Eq. 7 | the generator and its loss |
| ``sampling`` | Sec. 3.2, 4.2 | cached frame-by-frame greedy / temperature / top-k sampling |
| ``checkpoint`` | | one-file safetensors checkpoints with JSON metadata, CheckpointError |
| ``api`` | | ``load_model(path, device).generate(first_frame, caption, speed, num_samples, seed)`` |
| ``train``, ``train_cli`` | Sec. 4.2 | ``ti2v-train vqvae`` / ``ti2v-train mage`` (CPU, CUDA bf16, torchrun DDP, resume) |

Quick start::

    ti2v-datagen mnist --variant single --split train --num-videos 2000 --out data --digits sklearn
    ti2v-datagen mnist --variant single --split test --num-videos 200 --out data --seed 1 --digits sklearn
    ti2v-train vqvae --preset mnist-single --data data --out runs/ms/vqvae
    ti2v-train mage --preset mnist-single --data data --vqvae runs/ms/vqvae/vqvae.ckpt --out runs/ms/mage

    from ti2v.models.api import load_model
    video = load_model("runs/ms/mage/model.ckpt").generate(first_frame, "the digit 3 is moving up then down .", 0.5)

Benchmarks: ``bench/mage_speed.py`` (seconds per 10-frame video, batch 1, CPU) and ``bench/mage_train_step.py``.
"""

from .api import CheckpointError, MAGEModel, load_model, load_vqvae  # noqa: F401
