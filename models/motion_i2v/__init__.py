"""A Motion-I2V-style baseline (Shi et al., 2024): predict the motion field first, then render by warping.

| module | Motion-I2V | holds |
|---|---|---|
| ``field_predictor`` | stage 1 | flow-matching field predictor: a transformer over field patches, cross-attention to the text |
| ``hints`` | sparse trajectory control, motion brush | trajectories and regions as conditioning maps; training hints |
| ``warp`` | stage 2, propagation | forward (softmax) splatting of frame 1 along the field |
| ``renderer`` | stage 2, motion-augmented temporal attention | refiner with attention along time, visibility blend |
| ``model`` | both stages | the generator and its two losses |
| ``api`` | | ``load_model(path).generate(..., trajectories=, region=)``, shipped checkpoints |
| ``train`` | | ``ti2v-train motion-i2v`` (the MAGE trainer's StageRun: resume, deadline, DDP, bf16 on CUDA) |

Shared with MAGE: the text encoder, vocabulary, speed embedding phi, checkpoint format and ``load_model``. The
ground-truth motion comes from ``ti2v.datagen.motion`` (stored for CATER-GEN, derived exactly for MNIST).
"""
