"""One letter from request to receipt: the pipeline and the routing rule."""
