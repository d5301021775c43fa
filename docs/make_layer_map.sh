#!/usr/bin/env bash
# How docs/layer_map.png was made: two small networks trained briefly on CIFAR-10 (the shared
# ImageFolder copy), then `simfunc map` on 2,000 test images. Run from the repository root.
set -euo pipefail
DATA=${DATA:-../shared/data}
OUT=${OUT:-/tmp/simfunc-docs}
export PYTHONPATH=$PWD/src
python -m simfunc train --arch resnet18 --width 0.25 --dataset cifar10 --data-root "$DATA" \
    --subset 4000 --test-subset 1000 --epochs 2 --seed 0 --out "$OUT/resnet18"
python -m simfunc train --arch vgg16 --width 0.25 --dataset cifar10 --data-root "$DATA" \
    --subset 4000 --test-subset 1000 --epochs 2 --seed 0 --out "$OUT/vgg16"
RESNET=body.0,body.1.0.conv1,body.1.0,body.1.1.conv1,body.1.1,body.2.0.conv1,body.2.0,body.2.1.conv1,body.2.1,body.3.0.conv1,body.3.0,body.3.1.conv1,body.3.1,body.4.0.conv1,body.4.0,body.4.1.conv1,body.4.1,features,logits
VGG=body.0,body.1,body.3,body.4,body.6,body.7,body.8,body.10,body.11,body.12,body.14,body.15,body.16,features,logits
python -m simfunc map --model "$OUT/resnet18" --model "$OUT/vgg16" --data cifar10 \
    --data-root "$DATA" --subset 2000 --layers-a "$RESNET" --layers-b "$VGG" \
    --title "ResNet-18 vs VGG-16 (width 0.25, 2 epochs on 4,000 CIFAR-10 images): minibatch CKA" \
    --out "$OUT/map"
cp "$OUT/map/layer_map.png" docs/layer_map.png
