"""The symbol detector network: a small fully convolutional net with a
centre-heatmap head (CenterNet style).

Input: the normalized page (:mod:`omr.page`), grey, one staff space =
``STAFF_SPACE_NORM`` px, as a float tensor ``(B, 1, H, W)`` with ink = 1 and paper = 0.
Output, at ``OUTPUT_STRIDE`` (one cell = 0.4 staff space):

- ``heatmap`` ``(B, C, H/4, W/4)``: logits of "a symbol of class c is centred here",
  one channel per detected class of :mod:`omr.vocab` (in ``vocab.DETECTED_NAMES`` order);
- ``size`` ``(B, 2, H/4, W/4)``: log of the box width and height in staff spaces;
- ``offset`` ``(B, 2, H/4, W/4)``: sub-cell position of the centre, in cells.

The encoder goes down to 1/32 (a receptive field of about 40 staff spaces, so a
barline, a beam group or a hairpin is seen whole) and a feature pyramid brings it
back to 1/4. There is no torchvision: every layer is plain ``torch.nn``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from omr import vocab

#: Output cells per input pixel: the heads run at 1/4 of the input resolution.
OUTPUT_STRIDE = 4


@dataclass(frozen=True)
class ModelConfig:
    """Widths of the network; stored in the checkpoint so it rebuilds itself."""

    widths: tuple[int, ...] = (16, 32, 64, 96, 128)   # at strides 2, 4, 8, 16, 32
    blocks: tuple[int, ...] = (0, 0, 1, 2, 1)         # residual blocks per stage
    fpn: int = 64                                      # pyramid width (strides 8..32)
    head: int = 48                                     # width at stride 4 and of the heads
    n_classes: int = len(vocab.DETECTED_NAMES)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _conv_bn(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection."""

    def __init__(self, ch: int, dilation: int = 1):
        super().__init__()
        self.conv1 = _conv_bn(ch, ch, dilation=dilation)
        self.conv2 = nn.Sequential(
            nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv2(self.conv1(x)), inplace=True)


class Detector(nn.Module):
    """Encoder (strides 2..32) + feature pyramid to stride 4 + three heads."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        w = config.widths
        stages = []
        cin = 1
        for i, (ch, nb) in enumerate(zip(w, config.blocks)):
            layers = [_conv_bn(cin, ch, stride=2)]
            layers += [ResBlock(ch, dilation=1 if i < 3 else 2 if b % 2 else 1) for b in range(nb)]
            stages.append(nn.Sequential(*layers))
            cin = ch
        self.stages = nn.ModuleList(stages)
        f = config.fpn
        # the pyramid runs at strides 8, 16, 32 in `fpn` channels; at stride 4, where
        # convolutions cost most, it narrows to `head` channels
        self.lateral = nn.ModuleList(nn.Conv2d(ch, f, 1) for ch in w[2:])
        self.smooth = _conv_bn(f, f)
        self.lateral4 = nn.Conv2d(w[1], config.head, 1)
        self.reduce4 = nn.Conv2d(f, config.head, 1)
        self.fuse = _conv_bn(config.head, config.head)
        self.heatmap = nn.Conv2d(config.head, config.n_classes, 1)
        self.size = nn.Conv2d(config.head, 2, 1)
        self.offset = nn.Conv2d(config.head, 2, 1)
        # start the heatmap at a low prior (CenterNet): few cells hold a centre
        nn.init.constant_(self.heatmap.bias, -4.6)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        top = self.lateral[-1](feats[-1])
        for lat, feat in zip(reversed(self.lateral[:-1]), reversed(feats[2:-1])):
            top = F.interpolate(top, size=feat.shape[-2:], mode="nearest") + lat(feat)
        top = self.smooth(top)                                   # stride 8
        y = F.interpolate(self.reduce4(top), size=feats[1].shape[-2:], mode="nearest")
        y = self.fuse(y + self.lateral4(feats[1]))               # stride 4
        return {"heatmap": self.heatmap(y), "size": self.size(y), "offset": self.offset(y)}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
