"""folkclip index / search / suggest / similar: build and query a tune index."""
