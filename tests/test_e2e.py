"""End to end with the real VGG19: a real photo and a real painting from ../shared/images."""
from __future__ import annotations

import numpy as np
import pytest

from nst import gatys
from nst.runtime import set_seed


@pytest.mark.slow
def test_style_loss_falls_and_content_is_kept(shared_images):
    from solutions.style_transfer import StyleTransfer

    set_seed(0)
    config = gatys.Config(max_size=96, iterations=100, print_iterations=100, seed=0, initial="noise")
    content, styles = gatys.prepare_images(str(shared_images / "content" / "tubingen.jpg"),
                                           [str(shared_images / "styles" / "starry_night.jpg")], config)
    st = StyleTransfer(content, styles, config)
    st.build()
    start = {k: float(v) for k, v in st.total_loss().items()}
    result = st.train()
    end = {k: float(v) for k, v in st.total_loss().items()}

    assert result.shape == (72, 96, 3) and result.dtype == np.uint8
    assert end["style"] < start["style"] / 10, (start, end)
    assert end["content"] < start["content"], "the content features end closer to the photo's than the noise start's were"
