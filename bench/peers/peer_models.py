"""The benchmark models written in plain PyTorch (and timm where timm has them), matching attncnn's layouts.

seed_net            attncnn's origin network with the spatial gate
resnet20_se         CIFAR ResNet-20 (option A shortcuts) with timm-style SE (rd_ratio 1/16, divisor 8) after bn2
resnet18_cbam       timm resnet18 with CBAM in every block, CIFAR stem (3x3 stride 1, no max-pool)
resnet50_se         timm seresnet50; resnet50 is its baseline without attention
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SGate(nn.Module):
    def __init__(self, c, rd=1.0):
        super().__init__()
        h = max(1, int(c * rd + 0.5))
        self.conv1 = nn.Conv2d(c, h, 1)
        self.conv2 = nn.Conv2d(h, 1, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.conv2(F.relu(self.conv1(x))))


class SeedNet(nn.Module):
    def __init__(self, in_ch=1, num_classes=10, attn=True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.attn = SGate(64) if attn else nn.Identity()
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(128)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.attn(x)
        x = F.relu(self.bn3(self.conv3(x)))
        return self.fc(x.mean((2, 3)))


def make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


class SE(nn.Module):
    def __init__(self, c, rd_ratio=1 / 16, rd_divisor=8):
        super().__init__()
        rd = make_divisible(c * rd_ratio, rd_divisor, round_limit=0.0)
        self.fc1 = nn.Conv2d(c, rd, 1)
        self.fc2 = nn.Conv2d(rd, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class CifarBlock(nn.Module):
    def __init__(self, cin, cout, stride, attn):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.se = SE(cout) if attn else nn.Identity()
        self.pad = cout - cin
        self.stride = stride

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        sc = x
        if self.stride != 1 or self.pad:
            sc = x[:, :, :: self.stride, :: self.stride]
            sc = F.pad(sc, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + sc)


class CifarResNet(nn.Module):
    def __init__(self, depth=20, num_classes=10, attn=True):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for i, c in enumerate((16, 32, 64)):
            for j in range(n):
                layers.append(CifarBlock(cin, c, 2 if (j == 0 and i > 0) else 1, attn))
                cin = c
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return self.fc(self.layers(x).mean((2, 3)))


def build(name):
    """Returns (model, input shape without batch) for a benchmark name."""
    if name == "seed_net":
        return SeedNet(), (1, 28, 28)
    if name == "seed_net_none":
        return SeedNet(attn=False), (1, 28, 28)
    if name == "resnet20_se":
        return CifarResNet(20, attn=True), (3, 32, 32)
    if name == "resnet20":
        return CifarResNet(20, attn=False), (3, 32, 32)
    import timm
    if name in ("resnet18_cbam", "resnet18_cifar"):
        kw = dict(block_args=dict(attn_layer="cbam")) if name == "resnet18_cbam" else {}
        m = timm.create_model("resnet18", num_classes=10, **kw)
        m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
        return m, (3, 32, 32)
    if name == "resnet50_se":
        return timm.create_model("seresnet50", num_classes=1000), (3, 224, 224)
    if name == "resnet50":
        return timm.create_model("resnet50", num_classes=1000), (3, 224, 224)
    raise ValueError(name)
