"""Deployable forms of a trained model, each checked against the Keras model before it is written.

  python -m export.saved_model   TF Serving (OUT/NAME/VERSION, uint8 / float / Y signatures)
  python -m export.tflite        TFLite / LiteRT: float32, float16, dynamic-range, int8
  python -m export.onnx          ONNX, checked with onnxruntime
"""
