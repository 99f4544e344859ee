"""Training code for the demo detectors: data stream, YOLOv1 loss, COCO evaluation, training loop."""
