"""Block diagrams of the three landmark architectures' building blocks, drawn with matplotlib.

Each block is a list of boxes (a layer and its output size) joined by arrows,
with the sizes of the real networks as Keras builds them (``keras.applications``):

- :data:`VGG_BLOCK`: VGG-16's fourth block, three 3 x 3 convolutions of 512 filters and a pooling;
- :data:`BOTTLENECK`: ResNet-50's first bottleneck of stage 2 (``conv2_block1``), 1 x 1 down to 64
  channels, 3 x 3, 1 x 1 up to 256, added to the (projected) shortcut;
- :data:`INCEPTION_MODULE`: Inception-V3's first module (``mixed0``), four parallel branches
  concatenated to 256 channels.

Example:
    >>> figure = plot_architecture_blocks()  # doctest: +SKIP
"""

from __future__ import annotations

VGG_BLOCK = {
    "title": "VGG-16, block 4",
    "input": "input 28 x 28 x 256",
    "branches": [["3x3 conv, 512\n28 x 28 x 512", "3x3 conv, 512\n28 x 28 x 512", "3x3 conv, 512\n28 x 28 x 512",
                  "2x2 max pool\n14 x 14 x 512"]],
    "merge": None,
    "output": "output 14 x 14 x 512",
}
BOTTLENECK = {
    "title": "ResNet-50, bottleneck (conv2_block1)",
    "input": "input 56 x 56 x 64",
    "branches": [["1x1 conv, 64\n56 x 56 x 64", "3x3 conv, 64\n56 x 56 x 64", "1x1 conv, 256\n56 x 56 x 256"],
                 ["shortcut:\n1x1 conv, 256\n(identity in the\nnext blocks)"]],
    "merge": "add, then ReLU",
    "output": "output 56 x 56 x 256",
}
INCEPTION_MODULE = {
    "title": "Inception-V3, module mixed0",
    "input": "input 35 x 35 x 192",
    "branches": [["1x1 conv, 64"], ["1x1 conv, 48", "5x5 conv, 64"], ["1x1 conv, 64", "3x3 conv, 96", "3x3 conv, 96"],
                 ["3x3 avg pool", "1x1 conv, 32"]],
    "merge": "concatenate\n64 + 64 + 96 + 32",
    "output": "output 35 x 35 x 256",
}
BLOCKS = (VGG_BLOCK, BOTTLENECK, INCEPTION_MODULE)


def _box(axes, x: float, y: float, text: str, *, width: float, height: float = 0.085, fill: str = "#FFFFFF") -> None:
    from matplotlib.patches import FancyBboxPatch

    axes.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.008",
                                  facecolor=fill, edgecolor="#000000", linewidth=1.0))
    axes.text(x, y, text, ha="center", va="center", fontsize=7.5)


def _arrow(axes, start: tuple, end: tuple, *, style: str = "-") -> None:
    axes.annotate("", xy=end, xytext=start,
                  arrowprops=dict(arrowstyle="->", color="#000000", linewidth=1.0, linestyle=style))


def _draw_block(axes, block: dict) -> None:
    """One block, top (input) to bottom (output), its branches side by side."""
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.axis("off")
    axes.set_title(block["title"], fontsize=10)
    _box(axes, 0.5, 0.95, block["input"], width=0.6, fill="#E8E8E8")
    branches = block["branches"]
    count = len(branches)
    longest = max(len(branch) for branch in branches)
    bottom = 0.22 if block["merge"] else 0.1
    step = (0.85 - bottom) / (longest + (0 if block["merge"] else 0.2))
    width = min(0.6, 0.92 / count - 0.02)
    ends = []
    for index, branch in enumerate(branches):
        x = (index + 0.5) / count
        previous = (0.5, 0.95 - 0.045)
        for number, text in enumerate(branch):
            y = 0.85 - (number + 0.5) * step
            lines = text.count("\n") + 1
            height = 0.045 + 0.035 * lines
            shortcut = block is BOTTLENECK and index == 1
            _arrow(axes, previous, (x, y + height / 2), style="--" if shortcut else "-")
            _box(axes, x, y, text, width=width, height=height, fill="#DCEAF7" if not shortcut else "#FFFFFF")
            previous = (x, y - height / 2)
        ends.append(previous)
    if block["merge"]:
        merge_y = 0.17
        for end in ends:
            _arrow(axes, end, (0.5, merge_y + 0.04), style="--" if block is BOTTLENECK and end is ends[-1] else "-")
        _box(axes, 0.5, merge_y, block["merge"], width=0.6, height=0.08, fill="#F4E1D2")
        _arrow(axes, (0.5, merge_y - 0.04), (0.5, 0.085))
    else:
        _arrow(axes, ends[0], (0.5, 0.085))
    _box(axes, 0.5, 0.05, block["output"], width=0.6, fill="#E8E8E8")


def plot_architecture_blocks(blocks=BLOCKS):
    """Draw ``blocks`` (default: VGG block, ResNet bottleneck, Inception module) side by side; return the figure.

    Example:
        >>> figure = plot_architecture_blocks()  # doctest: +SKIP
        >>> len(figure.axes)  # doctest: +SKIP
        3
    """
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(blocks), figsize=(4.2 * len(blocks), 5.6), squeeze=False)
    for cell, block in zip(axes[0], blocks):
        _draw_block(cell, block)
    figure.tight_layout()
    return figure
