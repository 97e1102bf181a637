# Stages J7 and J8 (2026-12-04, later): the default preset spn_strong (alignment "flow") fine-tuned on
# flow-aligned windows with training.fit_jax on one NVIDIA H200 (Keras 3.15.1 on JAX 0.11.2, bfloat16):
# the rendering workers align every window of version 8 onto its centre frame (keras_spgan.align, on
# whole RGB frames, as deblur does), 5,760 training windows and 240 held-out ones; rendering and
# aligning took 50 s on 16 cores. 46 steps/s at batch 64 of 128 px crops, as unaligned.
# J8 started from J7's result: the device call carried J7's weights.h5 in place of the preset's
# (the run folder did not fit the 64 MiB the call carries), so J8's run.json names runs/presets/spn-j7.
#
# Held-out Y PSNR on aligned windows (input 28.015): spn_strong 29.856; J7 30.678 (step 10,800);
# J8 30.813 (step 11,000). Measured, NOT shipped: trained on aligned windows, the network leans on its
# neighbours, and where the flow misses (riders crossing, 10 px/frame pans) that is a ghost (RGB gains):
#                      fast pans (worst)   bikes mild/medium/strong   carphone mild/medium/strong
#   spn_strong         +0.61 (-0.23)       +0.31 / +0.63 / +1.19      +0.50 / +1.20 / +0.93
#   J7                 +0.35 (-4.08)       -1.78 / -1.24 / +0.29      +1.22 / +1.63 / +1.10
#   J8                 +0.47 (-4.02)       -1.68 / -1.39 / +0.15      +1.38 / +1.71 / +1.14
#   J8 on bigbuckbunny (720p animation) mild/medium/strong: -0.44 / +1.00 / +0.09 (spn_strong +1.23 / +1.48 / +0.59)
#   J8 step 8,000      +0.11 (-4.76)       -4.57 / -2.32 / -0.01      +1.26 / +1.67 / +1.16
#   0.7 spn_strong + 0.3 J8 (training.average)
#                      +0.62 (-0.76)       +0.29 / +0.58 / +1.17      +0.65 / +1.33 / +1.09
#   0.5 + 0.5          +0.58 (-1.32)       -0.05 / -0.03 / +0.91      +0.79 / +1.42 / +1.15
# J9 (a CPU try, stopped at step 800): J8 fine-tuned with --unaligned_share 0.5 (half the windows as
# filmed, so that the network sees misaligned neighbours), batch 8, lr 2e-5, half the training clips,
# JAX on 2 CPU cores at 0.36 steps/s: its average at step 750 was worse everywhere on motion
# (fast pans -0.65, worst -6.77; bikes -4.27 / -2.03 / +0.03; carphone +0.87 / +1.41 / +1.11; held-out
# Y 30.81 -> 30.28 at step 500). Batch 8 with BatchNorm training is noisy, so this does not settle
# whether the share helps at batch 64 on a GPU; the command, for the record:
#   KERAS_BACKEND=jax JAX_PLATFORMS=cpu python -m training.fit_jax --out runs/presets/spn-j9 --init_from runs/presets/spn-j8 --unaligned_share 0.5 --steps 2000 --batch_size 8 --crop 128 --lr 2e-5 --min_lr 1e-6 --warmup_steps 100 --ema 0.999 --no-mixed_precision --eval_every 500 --keep_every 250 --max_clips 480 --workers 2 --seed 2
set -e
KERAS_BACKEND=jax python -m training.fit_jax --out runs/presets/spn-j7 --init_from spn_strong --stills_version 8 --steps 10800 --batch_size 64 --crop 128 --lr 0.0001 --min_lr 1e-06 --warmup_steps 300 --loss mse --ema 0.999 --mixed_precision --eval_every 1000 --keep_every 6000 --seed 0
KERAS_BACKEND=jax python -m training.fit_jax --out runs/presets/spn-j8 --init_from runs/presets/spn-j7 --stills_version 8 --steps 11000 --batch_size 64 --crop 128 --lr 5e-05 --min_lr 1e-06 --warmup_steps 300 --loss mse --ema 0.999 --mixed_precision --eval_every 1000 --keep_every 4000 --seed 1
