"""folkclip_cli: the training and evaluation programs built on the folkclip library.

Kept apart from ``folkclip`` so that ``import folkclip`` pulls in no trainer or tracker.
"""
