"""Every block of YAML generated from one source is current (tests/support/generated_docs.py)."""

import pytest

from tests.support.examples import REPO
from tests.support.generated_docs import BLOCKS


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: str(block.path.relative_to(REPO)))
def test_the_generated_block_is_current(block):
    text = block.path.read_text()
    assert text == block.applied(text), f"run `make generated-docs`: {block.path.relative_to(REPO)} is stale"
