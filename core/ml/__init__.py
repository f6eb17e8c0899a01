"""The torch tier: models, training, prediction, Grad-CAM, export. Nothing outside it imports torch at module level."""
