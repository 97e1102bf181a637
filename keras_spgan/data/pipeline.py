"""tf.data pipelines: training windows with random crops, full-frame evaluation windows.

A window is the T = num_frames blurry frames centred on a target frame; the
target is that frame's sharp version.

Training (`training_dataset`): every window that lies fully inside a clip;
the same random crop on all T frames and the target; random horizontal and
vertical flips, rot90 and temporal reversal; shuffled and repeated. JPEG
frames are decoded only inside the crop (`decode_and_crop_jpeg`), which is
what lets a 2-core machine feed full-HD DVD frames faster than the model
consumes them. Every random choice is a stateless function of (seed, element),
so a seeded pipeline yields the same batches on every run, however many
parallel calls decode it.

Distribution: with an `input_context` (from
`strategy.distribute_datasets_from_function`), the *index* of windows is
sharded before anything is decoded, so each worker reads only its share, and
auto-sharding is switched off (it would shard a second time). Without one,
auto-sharding is set to DATA, which is correct for any strategy but makes
every worker decode everything.

Validation during training (`validation_dataset`): a fixed set of windows
spread evenly over the clips, centre-cropped to one size so they batch.

Evaluation (`evaluation_dataset`): one clip, every frame, in order; the ends
are replicate-padded (frame 0 is repeated before the first frame, and the last
after the last), so every frame gets an output. Each frame is decoded once.
"""

import numpy as np
import tensorflow as tf

from keras_spgan import colour
from keras_spgan.align import align_window, check_alignment, check_flow_errors

CHANNELS = ("y", "rgb")


def window_indices(num_clip_frames, num_frames, centre):
    """Frame indices of the window centred on `centre`, replicate-padded at the ends."""
    radius = num_frames // 2
    return [min(max(i, 0), num_clip_frames - 1) for i in range(centre - radius, centre + radius + 1)]


def _training_index(clips, num_frames):
    radius = num_frames // 2
    blurry, sharp, sizes = [], [], []
    for clip in clips:
        if clip.sharp is None:
            raise ValueError(f"{clip.folder}: training needs sharp frames")
        for centre in range(radius, clip.num_frames - radius):
            blurry.append(clip.blurry[centre - radius : centre + radius + 1])
            sharp.append(clip.sharp[centre])
            sizes.append(clip.size)
    return blurry, sharp, sizes


def _to_output(frames_uint8, channels):
    frames = tf.cast(frames_uint8, tf.float32) / 255.0
    return colour.rgb_to_y(frames) if channels == "y" else frames


# JPEGs are decoded with libjpeg's accurate integer DCT, as OpenCV, PIL and
# MATLAB decode them (TensorFlow's default fast DCT differs by up to 8 levels).
# The format comes from the file's first bytes, never from its name.
JPEG_DCT = "INTEGER_ACCURATE"


def _is_jpeg(data):
    return tf.equal(tf.strings.substr(data, 0, 2), b"\xff\xd8")


# decode_and_crop_jpeg gets the crop's outer columns wrong (chroma upsampling
# without their neighbours, up to 22 levels): decode this much more, then crop.
JPEG_CROP_MARGIN = 16


def _decode_crop(path, size, top, left, crop):
    data = tf.io.read_file(path)

    def jpeg():
        top0, left0 = tf.maximum(top - JPEG_CROP_MARGIN, 0), tf.maximum(left - JPEG_CROP_MARGIN, 0)
        bottom = tf.minimum(top + crop + JPEG_CROP_MARGIN, size[0])
        right = tf.minimum(left + crop + JPEG_CROP_MARGIN, size[1])
        window = tf.stack([top0, left0, bottom - top0, right - left0])
        image = tf.io.decode_and_crop_jpeg(data, window, channels=3, dct_method=JPEG_DCT)
        return image[top - top0 : top - top0 + crop, left - left0 : left - left0 + crop]

    def other():
        return tf.image.crop_to_bounding_box(tf.io.decode_image(data, 3, expand_animations=False), top, left, crop, crop)

    image = tf.cond(_is_jpeg(data), jpeg, other)
    image.set_shape([crop, crop, 3])
    return image


def _aligned(frames, alignment, flow_errors=0.0, seed=None):
    """A (T, H, W, 3) uint8 window warped onto its centre frame (`keras_spgan.align`), as
    deblurring aligns it: on whole frames, before any crop. With `flow_errors`, a share of the
    neighbours get local flow errors drawn from `seed` (an int64 pair: the same window, the same errors)."""
    if alignment == "none":
        return frames
    def align(window, *pair):  # the seed pair's bits as a numpy seed (it may be negative)
        rng = np.random.default_rng(pair[0].view(np.uint64).tolist()) if pair else None
        return align_window(window, alignment, flow_errors=flow_errors, rng=rng)

    inputs = [frames, seed] if flow_errors else [frames]
    out = tf.numpy_function(align, inputs, tf.uint8, stateful=False)
    out.set_shape(frames.shape)
    return out


def _decode_aligned(paths, num_frames, alignment, flow_errors=0.0, seed=None):
    """A window's whole frames, decoded and aligned (`_aligned`): (T, H, W, 3) uint8."""
    return _aligned(tf.stack([_decode_full(paths[t]) for t in range(num_frames)]), alignment, flow_errors, seed)


def _decode_window(entry, num_frames, alignment="none"):
    """Index entry -> the same entry with full decoded (and aligned) frames in place of the paths."""
    paths, sharp_path, size = entry
    return _decode_aligned(paths, num_frames, alignment), _decode_full(sharp_path), size


def _augment(blurry, sharp, seeds):
    """Same flips and rotation on every frame and the target; maybe reverse time."""
    frames = tf.concat([blurry, sharp[None]], axis=0)
    coins = [tf.random.stateless_uniform([], seeds[i]) < 0.5 for i in range(3)]
    frames = tf.cond(coins[0], lambda: tf.reverse(frames, [2]), lambda: frames)
    frames = tf.cond(coins[1], lambda: tf.reverse(frames, [1]), lambda: frames)
    quarter_turns = tf.random.stateless_uniform([], seeds[3], 0, 4, dtype=tf.int32)
    frames = tf.image.rot90(frames, quarter_turns)
    blurry, sharp = frames[:-1], frames[-1]
    blurry = tf.cond(coins[2], lambda: tf.reverse(blurry, [0]), lambda: blurry)
    return blurry, sharp


def _seeded_order(size, seed, repeat):
    """Window positions, shuffled per epoch; epoch e's order is a stateless
    function of (seed, e), so every iterator of the dataset yields the same
    sequence (tf.data's reshuffle_each_iteration gives each new iterator a new
    order, and Keras' fit may create more than one)."""

    def epoch(e):
        pair = tf.stack([tf.constant(seed, tf.int64), tf.cast(e, tf.int64)])
        return tf.data.Dataset.from_tensor_slices(tf.random.experimental.stateless_shuffle(tf.range(size), pair))

    return tf.data.Dataset.counter().flat_map(epoch) if repeat else epoch(0)


def training_dataset(
    clips,
    num_frames,
    *,
    batch_size=4,
    crop=128,
    channels="y",
    augment=True,
    seed=None,
    repeat=True,
    input_context=None,
    cache=None,
    start_batch=0,
    alignment="none",
    flow_errors=0.0,
):
    """Batches of (blurry (B, T, crop, crop, C), sharp (B, crop, crop, C)), float32 in [0, 1].

    `clips` come from `layouts.load_clips` (validated, with sizes). `batch_size`
    is the global batch; with an `input_context` each pipeline batches its
    per-replica share. C is 1 for channels="y" (BT.601 luma), 3 for "rgb".
    `cache`: None decodes from disk every time (inside the crop for JPEG);
    with a cache the order comes from tf.data's shuffle (seeded, but new per
    iterator, so a resumed run sees other batches than an uninterrupted one);
    "" keeps the decoded full-size windows in memory after the first pass,
    a path caches them in files there. The cache holds every window's T + 1
    frames, so it suits small datasets (the sample one) or big memory.
    `start_batch`: skip this pipeline's first batches without decoding them,
    so a run resumed at step S sees the batches an uninterrupted run would
    have seen from step S on.
    `alignment`: "flow" warps every window's frames onto its centre frame by optical flow
    (`keras_spgan.align`), on whole frames before the crop, as deblurring with a model trained
    so does (`SPN(alignment=...)`); it decodes whole frames, and costs CPU time per window.
    `flow_errors`: with "flow", the share of the neighbours whose flow gets a local error before
    the warp (`keras_spgan.align.flow_error_field`), drawn from each element's seed.
    """
    check_alignment(alignment)
    check_flow_errors(flow_errors)
    if flow_errors and alignment == "none":
        raise ValueError("flow_errors needs aligned windows (alignment='flow')")
    if flow_errors and cache is not None:
        raise ValueError("flow_errors draws new errors for every window: it cannot use a cache")
    if channels not in CHANNELS:
        raise ValueError(f"channels must be one of {CHANNELS}, got {channels!r}")
    if num_frames < 1 or num_frames % 2 == 0:
        raise ValueError(f"num_frames must be odd and positive, got {num_frames}")
    if crop < 4 or crop % 4:
        raise ValueError(f"crop must be a positive multiple of 4 (the SPN down-samples twice), got {crop}")
    for clip in clips:
        if min(clip.size) < crop:
            raise ValueError(f"{clip.folder}: frames of {clip.size[1]}x{clip.size[0]} are smaller than crop={crop}")
        if clip.num_frames < num_frames:
            raise ValueError(f"{clip.folder}: {clip.num_frames} frames, fewer than the window of {num_frames}")
    blurry, sharp, sizes = _training_index(clips, num_frames)
    if not blurry:
        raise ValueError("no training windows: every clip is shorter than the window")

    columns = (tf.constant(blurry), tf.constant(sharp), tf.constant(sizes, tf.int32))
    per_replica_batch = batch_size
    shards = (1, 0)
    if input_context is not None:
        shards = (input_context.num_input_pipelines, input_context.input_pipeline_id)
        per_replica_batch = input_context.get_per_replica_batch_size(batch_size)
    if cache is None and seed is not None:
        # Each pipeline takes every n-th position of one global order: disjoint shares.
        order = _seeded_order(len(blurry), seed, repeat).shard(*shards)
        index = order.map(lambda i: tuple(tf.gather(column, i) for column in columns))
    else:
        # Unseeded, or cached decoded windows (which can only be shuffled as a
        # dataset): tf.data's shuffle, a new order per iterator.
        index = tf.data.Dataset.from_tensor_slices(columns).shard(*shards)
        if cache is not None:
            index = index.map(lambda *entry: _decode_window(entry, num_frames, alignment),
                              num_parallel_calls=tf.data.AUTOTUNE)
            index = index.cache(cache)
        index = index.shuffle(len(blurry), seed=seed, reshuffle_each_iteration=True)
        index = index.repeat() if repeat else index
    # One independent seed pair per element, for stateless (reproducible) randomness.
    element_seeds = tf.data.Dataset.random(seed=seed).batch(2)
    dataset = tf.data.Dataset.zip(index, element_seeds)
    if start_batch:
        dataset = dataset.skip(int(start_batch) * per_replica_batch)

    def load(entry, seed_pair):
        paths, sharp_path, size = entry
        seeds = tf.random.experimental.stateless_split(seed_pair, 6)
        top = tf.random.stateless_uniform([], seeds[0], 0, size[0] - crop + 1, dtype=tf.int32)
        left = tf.random.stateless_uniform([], seeds[1], 0, size[1] - crop + 1, dtype=tf.int32)
        if cache is None and alignment != "none":  # the flow needs the whole frames
            # Its own seed, folded from the element's, so that the other draws stay what they are without it.
            errors_seed = tf.random.experimental.stateless_fold_in(seed_pair, 7) if flow_errors else None
            frames = _decode_aligned(paths, num_frames, alignment, flow_errors, errors_seed)
            frames = frames[:, top : top + crop, left : left + crop]
            target = _decode_crop(sharp_path, size, top, left, crop)
        elif cache is None:
            frames = tf.stack([_decode_crop(paths[t], size, top, left, crop) for t in range(num_frames)])
            target = _decode_crop(sharp_path, size, top, left, crop)
        else:  # paths and sharp_path are the decoded frames
            frames = paths[:, top : top + crop, left : left + crop]
            target = sharp_path[top : top + crop, left : left + crop]
        if augment:
            frames, target = _augment(frames, target, seeds[2:])
        return _to_output(frames, channels), _to_output(target, channels)

    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True if seed is not None else None)
    dataset = dataset.batch(per_replica_batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF if input_context is not None
        else tf.data.experimental.AutoShardPolicy.DATA
    )
    if seed is not None:
        options.deterministic = True
    return dataset.with_options(options)


def num_training_windows(clips, num_frames):
    return sum(max(0, clip.num_frames - 2 * (num_frames // 2)) for clip in clips)


def _decode_full(path):
    data = tf.io.read_file(path)
    image = tf.cond(_is_jpeg(data), lambda: tf.io.decode_jpeg(data, 3, dct_method=JPEG_DCT),
                    lambda: tf.io.decode_image(data, 3, expand_animations=False))
    image.set_shape([None, None, 3])
    return image


def evaluation_dataset(clip, num_frames, *, channels="y", batch_size=1):
    """(blurry window, sharp) for every frame of `clip`, in order; blurry only without ground truth."""
    if channels not in CHANNELS:
        raise ValueError(f"channels must be one of {CHANNELS}, got {channels!r}")
    radius = num_frames // 2
    order = [0] * radius + list(range(clip.num_frames)) + [clip.num_frames - 1] * radius
    decoded = tf.data.Dataset.from_tensor_slices(np.array(clip.blurry)[order]).map(_decode_full)
    windows = decoded.window(num_frames, shift=1, drop_remainder=True).flat_map(lambda w: w.batch(num_frames))
    windows = windows.map(lambda w: _to_output(w, channels))
    if clip.sharp is None:
        dataset = windows
    else:
        sharp = tf.data.Dataset.from_tensor_slices(list(clip.sharp)).map(_decode_full)
        dataset = tf.data.Dataset.zip(windows, sharp.map(lambda s: _to_output(s, channels)))
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)



def validation_dataset(clips, num_frames, *, max_windows=64, crop=256, channels="y", batch_size=4, alignment="none"):
    """Fixed (blurry, sharp) windows for validation while training.

    Up to `max_windows` window centres, spread evenly over all frames of all
    `clips` (replicate-padded ends, as in evaluation), each centre-cropped to
    `crop` x `crop` (capped by the smallest frame side, rounded down to a
    multiple of 4) so that clips of different sizes or orientation batch
    together. The count is rounded down to a multiple of `batch_size` (at
    least one batch) so every replica gets equal batches. `alignment`: as
    in `training_dataset` (whole frames aligned, then cropped).
    """
    check_alignment(alignment)
    if channels not in CHANNELS:
        raise ValueError(f"channels must be one of {CHANNELS}, got {channels!r}")
    if not clips or any(clip.sharp is None for clip in clips):
        raise ValueError("validation needs clips with sharp frames")
    crop = min([crop] + [min(clip.size) for clip in clips]) // 4 * 4
    if crop < 4:
        raise ValueError(f"validation crop must be at least 4 pixels, got {crop}")
    centres = [(clip, c) for clip in clips for c in range(clip.num_frames)]
    count = min(max_windows, len(centres))
    count = max(batch_size, count - count % batch_size)
    picks = [centres[int(i)] for i in np.linspace(0, len(centres) - 1, count).round().astype(int)]
    paths = [[clip.blurry[i] for i in window_indices(clip.num_frames, num_frames, c)] for clip, c in picks]
    targets = [clip.sharp[c] for clip, c in picks]
    sizes = [clip.size for clip, _ in picks]

    def load(window_paths, target_path, size):
        top, left = (size[0] - crop) // 2, (size[1] - crop) // 2
        frames = _decode_aligned(window_paths, num_frames, alignment)[:, top : top + crop, left : left + crop]
        target = _decode_full(target_path)[top : top + crop, left : left + crop]
        return _to_output(frames, channels), _to_output(target, channels)

    dataset = tf.data.Dataset.from_tensor_slices((paths, targets, tf.constant(sizes, tf.int32)))
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).cache().prefetch(tf.data.AUTOTUNE)
