# Stages J1 and J2 (2026-12-04): the `spn` preset of commit 24f8556 (stop 31's soup) trained on one
# NVIDIA H200 with training.fit_jax (Keras 3.15.1 on JAX 0.11.2, bfloat16, no TensorFlow on that
# machine), on version 8 of the presets' training set rendered in memory (984 clips; that machine's
# libraries rendered it with sha256 3f0a299f..., a 2-core development machine 6e6f1c9e...: the same
# clips to rounding, held-out input 28.015 dB there against 28.013 here).
# Batch 64 of 128 px crops (16 times the CPU recipes' batch), about 46 steps/s: J1 is 10,300 steps
# (the schedule fitted to a 505-second budget), J2 6,400 more from J1's result; 16,700 steps of 64
# windows, 1.07 M windows, against about 0.07 M behind the CPU-trained spn (about 17,000 steps of 4).
# Held-out Y PSNR (the set's 24 test clips, every frame, full size; input 28.015, the start 28.170):
# J1 (2e-4, cosine) average 28.04 / 28.17 / 27.66 / 27.87 / 28.07 / 27.90 / 28.78 / 29.23 / 29.44 /
# 29.57 dB at steps 1,000-10,000, 29.55 at 10,300; J2 (1e-4) 29.38 / 28.37 / 29.37 / 29.47 / 29.61 /
# 29.65 dB at steps 1,000-6,000, 29.71 at 6,400.
set -e
KERAS_BACKEND=jax python -m training.fit_jax --out runs/presets/spn-j1 --init_from spn --stills_version 8 --steps 10300 --batch_size 64 --crop 128 --lr 0.0002 --min_lr 1e-06 --warmup_steps 300 --loss mse --ema 0.999 --mixed_precision --eval_every 1000 --seed 0
KERAS_BACKEND=jax python -m training.fit_jax --out runs/presets/spn-j2 --init_from runs/presets/spn-j1 --stills_version 8 --steps 6400 --batch_size 64 --crop 128 --lr 0.0001 --min_lr 1e-06 --warmup_steps 300 --loss mse --ema 0.999 --mixed_precision --eval_every 1000 --seed 0
