"""Contrastive add-ons: augmentations of the behaviour sequence and InfoNCE between two views."""
